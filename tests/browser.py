"""A report page in Debian's headless Chromium: the rendered DOM, a screenshot, the requests."""

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

# Chromium's own background services, reached whatever page it shows.
CHROMIUM_SERVICES = (
    "clients2.google.com/time/",
    "update.googleapis.com/service/",
    "accounts.google.com/ListAccounts",
)


@dataclasses.dataclass
class Rendered:
    dom: str  # the document after layout, as Chromium serialises it
    screenshot: bytes  # PNG, also kept under test-artifacts/
    fetched: list[str]  # network requests the page made


def _chromium() -> str:
    chromium = shutil.which("chromium")
    assert chromium, "install Debian's chromium (apt-get install chromium) for the browser test"
    return chromium


def _flags(scratch: Path) -> list[str]:
    """Headless, offline apart from the page, with a profile in ``scratch``."""
    return [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={scratch / 'profile'}",
    ]  # fmt: skip


def render(page: Path, screenshot_name: str, scratch: Path) -> Rendered:
    chromium = _chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot, net_log = ARTIFACTS / screenshot_name, scratch / "net.json"
    flags = [*_flags(scratch), "--window-size=1400,2400"]
    shot = subprocess.run(
        [chromium, *flags, f"--screenshot={screenshot}", f"--log-net-log={net_log}", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shot.returncode == 0, shot.stderr[-2000:]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    urls = set(re.findall(r'"(?:url|original_url)":"([^"]+)"', net_log.read_text()))
    fetched = sorted(
        u
        for u in urls
        if u.startswith(("http", "ws")) and not any(s in u for s in CHROMIUM_SERVICES)
    )
    return Rendered(dom.stdout, screenshot.read_bytes(), fetched)


def assert_report_rendered(
    rendered: Rendered, nodes: int, feature: str = "trip_miles", metric: str = "binary_accuracy"
) -> None:
    """The graph, a feature's histogram and a metric are on the page; nothing was fetched."""
    dom = rendered.dom
    assert 'aria-label="pipeline graph"' in dom and dom.count('id="node-') == nodes
    assert f'aria-label="{feature}"' in dom.split('id="statistics"')[1]  # its histogram
    assert metric in dom.split('id="evaluation"')[1]
    assert rendered.fetched == []
    # A real picture, not a blank page.
    assert rendered.screenshot.startswith(b"\x89PNG") and len(rendered.screenshot) > 50_000


def dom_of(url: str, scratch: Path, wait_ms: int = 30_000) -> str:
    """The DOM of a live web application, after its scripts had ``wait_ms`` of virtual time."""
    chromium = _chromium()
    flags = [*_flags(scratch), f"--virtual-time-budget={wait_ms}"]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", url],
        capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip
    return dom.stdout
