"""The Content-Security-Policy nginx sends in production (roles/omero_web), sent by the test
server too, so a page of OMERO.web or of a plugin that breaks under it fails its browser test.

The policy is read from the role's defaults, the one place it is written down.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[4]
ROLE_DEFAULTS = REPO_ROOT / "roles" / "omero_web" / "defaults" / "main.yml"


@functools.cache
def content_security_policy() -> str:
    """The role's default policy, as nginx joins it."""
    defaults = yaml.safe_load(ROLE_DEFAULTS.read_text())
    return "; ".join(defaults["omero_web_content_security_policy"])


class ContentSecurityPolicyMiddleware:
    """Adds the production policy to every response of the test server."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        response["Content-Security-Policy"] = content_security_policy()
        return response


def csp_violations(driver: Any) -> list[str]:
    """The CSP violations chromium reported since the last call (it logs each one as a console
    error: "Refused to load the script ... because it violates ... Content Security Policy").
    Reading drains the browser log."""
    return [entry["message"] for entry in driver.get_log("browser")
            if "Content Security Policy" in entry["message"]]
