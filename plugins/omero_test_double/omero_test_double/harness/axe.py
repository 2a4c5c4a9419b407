"""Accessibility check of the page in the test browser with axe-core (fetched from the npm registry
at a pinned version by bin/setup-plugins-venv into the per-user cache):
`assert_accessible(browser, "omp-preview")` fails on any serious or critical violation and keeps
the full result in artifacts/axe/<name>.json. `snapshot(browser, name)` keeps a screenshot of the
state too: every plugin's browser tests call it for each page and main state."""

from __future__ import annotations

import base64
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from .fixtures import REPO_ROOT, SCREENSHOTS

_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
AXE_JS = _CACHE / "omero-ansible-extended" / "npm" / "axe-core" / "axe.min.js"
AXE_RESULTS = REPO_ROOT / "artifacts" / "axe"
BLOCKING = ("serious", "critical")


@cache
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def run_axe(browser: Any) -> dict[str, Any]:
    """axe's result for the current document (WCAG 2.x A/AA and best-practice rules).
    WebDriver injects the script, so the page's Content-Security-Policy does not apply to it."""
    if not browser.execute_script("return typeof window.axe === 'object'"):
        browser.execute_script(_axe_source())
    browser.set_script_timeout(60)
    result = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ["violations", "incomplete"]})
          .then(r => done({violations: r.violations, incomplete: r.incomplete.map(i => i.id),
                           passes: r.passes.length, url: r.url}))
          .catch(e => done({error: String(e)}));
    """)
    if "error" in result:
        raise AssertionError(f"axe-core failed on {browser.current_url}: {result['error']}")
    return result


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(n["target"]) if isinstance(n["target"], list)
                            else str(n["target"]) for n in v["nodes"][:5])
        lines.append(f"{v['impact']}: {v['id']} ({v['help']}) at {targets}")
    return "\n".join(lines)


def assert_accessible(browser: Any, name: str) -> dict[str, Any]:
    """No serious or critical axe violation on the current page; the result is kept."""
    result = run_axe(browser)
    AXE_RESULTS.mkdir(parents=True, exist_ok=True)
    (AXE_RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1))
    blocking = [v for v in result["violations"] if v["impact"] in BLOCKING]
    assert not blocking, f"axe on {name} ({browser.current_url}):\n{describe(blocking)}"
    return result


def full_page_png(browser: Any, max_height: int = 5000) -> bytes:
    """The whole page (not only the window), through chromium's DevTools protocol."""
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height),
            "scale": 1}
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True, "clip": clip})
    return base64.b64decode(shot["data"])


def snapshot(browser: Any, name: str, *, accessible: bool = True) -> Path:
    """A screenshot of this state in artifacts/screenshots/<name>.png, then the axe check."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    path.write_bytes(full_page_png(browser))
    if accessible:
        assert_accessible(browser, name)
    return path
