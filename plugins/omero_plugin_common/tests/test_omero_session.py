"""The job-service account acting for users: in-process and in a real Celery worker."""

from __future__ import annotations

import pytest

from omero_plugin_common import jobs, omero_session
from omero_plugin_common.config import common_settings
from omero_test_double import jobs as fake_jobs  # noqa: F401 - registers fake_omero_tag
from omero_test_double.login import login_factory


def test_acting_for_opens_a_session_as_the_user_and_closes_both(fake_omero, job_service):
    lab = fake_omero.add_group("lab", permissions="read-annotate")
    fake_omero.add_user("alice", groups=[lab])
    before = set(fake_omero.sessions)
    with omero_session.acting_for("alice") as conn:
        assert conn.getUser().getName() == "alice"
        assert conn.getEventContext().groupName == "lab"
    opened = [fake_omero.sessions[u] for u in set(fake_omero.sessions) - before]
    assert sorted(s.user.name for s in opened) == ["alice", "job-service"]
    assert all(s.closed for s in opened)


def test_acting_for_in_a_named_group(fake_omero, job_service):
    lab = fake_omero.add_group("lab", permissions="read-annotate")
    other = fake_omero.add_group("other", permissions="private")
    fake_omero.add_user("alice", groups=[lab, other])
    with omero_session.acting_for("alice", group_id=other.id) as conn:
        assert conn.getEventContext().groupId == other.id


def test_a_job_service_without_sudo_is_refused(fake_omero):
    fake_omero.add_user("job-service", admin=True, privileges=["ModifyUser"])
    fake_omero.add_user("alice", groups=[fake_omero.add_group("lab")])
    previous = omero_session.use_gateway_factory(login_factory(fake_omero))
    try:
        with (pytest.raises(omero_session.ActingForRefused, match="alice"),
              omero_session.acting_for("alice")):
            pass
    finally:
        omero_session.use_gateway_factory(previous)


def test_unknown_user_or_group_is_refused(fake_omero, job_service):
    fake_omero.add_user("alice", groups=[fake_omero.add_group("lab")])
    with pytest.raises(omero_session.ActingForRefused), omero_session.acting_for("mallory"):
        pass
    with (pytest.raises(omero_session.ActingForRefused, match="group 99999"),
          omero_session.acting_for("alice", group_id=99999)):
        pass


def test_a_failed_login_is_transient_and_names_no_password(fake_omero):
    previous = omero_session.use_gateway_factory(login_factory(fake_omero))
    try:  # no job-service account in this world
        with pytest.raises(jobs.TransientJobError) as raised, omero_session.service_session():
            pass
    finally:
        omero_session.use_gateway_factory(previous)
    assert common_settings().job_service_password not in str(raised.value)


@pytest.mark.worker
def test_a_real_worker_acts_for_the_job_owner(fake_omero, fake_omero_worker):
    lab = fake_omero.add_group("lab", permissions="read-annotate")
    alice = fake_omero.add_user("alice", groups=[lab])
    image = fake_omero.add_image("a.tif", owner=alice, group=lab)
    worker = fake_omero_worker("admin")
    job = jobs.submit("fake_omero_tag", owner="alice",
                      params={"image": image.id, "text": "from-worker"})
    after = worker.omero_after(job.id)
    done = jobs.get(job.id)
    assert done.state == "succeeded", done.error
    assert done.result["user"] == "alice"
    tag = after.records[done.result["tag"]]
    assert (tag.kind, tag.owner.name, tag.data["text"]) == ("TagAnnotation", "alice",
                                                              "from-worker")
    # The password is nowhere in the job row.
    password = common_settings().job_service_password
    assert password not in repr(done)
