"""A job kind for testing the platform against the test double: tag an image as its owner."""

from __future__ import annotations

from typing import Any

import omero
from omero.rtypes import rstring

from omero_plugin_common.jobs import JobContext, job_kind
from omero_plugin_common.omero_session import acting_for


# A test kind of the platform: it runs on the platform's queue.
@job_kind("fake_omero_tag", plugin="omero_plugin_common")
def tag_image(ctx: JobContext) -> dict[str, Any]:
    """Link a new tag ``params["text"]`` to image ``params["image"]``, acting for the owner."""
    with acting_for(ctx.job.owner) as conn:
        link = omero.model.ImageAnnotationLinkI()
        link.setParent(omero.model.ImageI(int(ctx.params["image"]), False))
        tag = omero.model.TagAnnotationI()
        tag.setTextValue(rstring(str(ctx.params["text"])))
        link.setChild(tag)
        saved = conn.getUpdateService().saveAndReturnObject(link, conn.SERVICE_OPTS)
        return {"tag": saved.getChild().getId().getValue(), "user": conn.getUser().getName()}
