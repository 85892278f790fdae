"""The dashboard in a real browser: `lumiere-eval dashboard` serves a fixture results root on 127.0.0.1 and
headless Chromium loads every page; each page must render its title and key content with no Streamlit
exception element, and a screenshot of each page is saved and checked to be non-blank.

Chromium's `--screenshot` fires at page load, before Streamlit's websocket has delivered the page (the
screenshot is the grey skeleton), so the browser is driven through the DevTools protocol instead: navigate,
wait until the page has rendered and stopped running, then capture. Skipped with the reason when no
chromium binary is installed (Debian: apt-get install chromium; the Makefile installs it).
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dashboard_fixtures import HOSTILE_SUBSTRING, build_good_root, build_real_runs

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install -y chromium)")
websockets_sync = pytest.importorskip("websockets.sync.client", reason="websockets (a streamlit dependency) absent")

# page -> text that must be on the rendered page
PAGES = {"leaderboard": ["Leaderboard", "SYNTHETIC DOMAIN"], "run": ["Run detail", "Per-class breakdown"],
         "videos": ["Videos", "videos match", "a shape moving right <b>bold</b>"],
         "compare": ["Compare", "pairs in common"],
         "drilldown": ["Per-video drill-down", "samples match", HOSTILE_SUBSTRING],
         "study": ["Human study", "Bradley-Terry ranking", "Vigilance"]}
REAL_RUNS = "ucf_runner"  # sorts after the fixture's runs, so the other pages' defaults stay theirs
# drill-down views -> (address, text that must be on the page); screenshots of these are the docs' images
DRILLDOWNS = {"drilldown_run": (f"run={REAL_RUNS}%2Fclean&loo=1&sort=fvd_loo_effect", ["FVD of the 9 cached rows", "nearest_real"]),
              "drilldown_paired": (f"run={REAL_RUNS}%2Fclean&run_b={REAL_RUNS}%2Fnoisy&loo=1",
                                   ["samples with the same prompt and seed in both runs", "FVD of the 9 cached rows"])}
STATE_JS = """JSON.stringify({
  text: document.body ? document.body.innerText : "",
  running: !!document.querySelector('[data-testid="stStatusWidget"]'),
  exceptions: document.querySelectorAll('[data-testid="stException"]').length,
  errors: Array.from(document.querySelectorAll('[data-testid="stAlertContentError"]')).map(e => e.innerText),
  videos: document.querySelectorAll('video').length,
  skeletons: Array.from(document.querySelectorAll('[data-testid]')).map(e => e.dataset.testid)
    .filter(t => /skeleton/i.test(t)).length,
  tables: document.querySelectorAll('[data-testid="stDataFrame"]').length,
  painted_tables: document.querySelectorAll('[data-testid="stDataFrame"] canvas').length})"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = build_good_root(tmp_path_factory.mktemp("results"))
    build_real_runs(root, tmp_path_factory.mktemp("scratch"), folder=REAL_RUNS)  # runs with cached features
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("w") as handle:
        process = subprocess.Popen([sys.executable, "-m", "lumiere_eval", "dashboard", str(root), "--port", str(port)],
                                   stdout=handle, stderr=subprocess.STDOUT)
    try:
        def healthy():
            if process.poll() is not None:
                raise AssertionError(f"dashboard exited: {log.read_text()}")
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read() == b"ok"
            except OSError:
                return False
        _wait(healthy, 60, "the dashboard server")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)
    with pytest.raises(OSError):  # the command ran Streamlit itself: stopping it left no server behind
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)


class DevTools:
    """A headless Chromium driven over the DevTools protocol (one page)."""

    def __init__(self, profile: Path):
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--window-size=1280,900", "--remote-debugging-port=0",
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--autoplay-policy=no-user-gesture-required",
             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        active = profile / "DevToolsActivePort"
        port = _wait(lambda: active.is_file() and active.read_text().split("\n")[0], 30, "Chromium's DevTools port")
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5).read())
        page = next(t for t in targets if t["type"] == "page")
        self.exits = contextlib.ExitStack()
        self.socket = self.exits.enter_context(
            websockets_sync.connect(page["webSocketDebuggerUrl"], max_size=2**26, open_timeout=10))
        self.next_id = 0

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise AssertionError(f"DevTools {method}: {message['error']}")
                return message["result"]

    def state(self) -> dict:
        return json.loads(self.call("Runtime.evaluate", expression=STATE_JS, returnByValue=True)["result"]["value"])

    def close(self) -> None:
        self.exits.close()
        self.process.terminate()
        self.process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    tools = DevTools(tmp_path_factory.mktemp("profile"))
    try:
        yield tools
    finally:
        tools.close()


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_in_chromium_without_exception_and_screenshot_is_not_blank(server, browser, page,
                                                                                tmp_path_factory):
    browser.call("Page.navigate", url=f"{server}/?page={page}")

    def rendered():
        state = browser.state()
        done = all(t in state["text"] for t in PAGES[page]) and not state["running"]
        done = done and state["skeletons"] == 0 and state["painted_tables"] >= state["tables"]
        return state if done and (page not in ("videos", "compare", "drilldown") or state["videos"] >= 2) else None

    state = _wait(rendered, 45, f"page {page} to render {PAGES[page]}")
    time.sleep(0.5)  # let images and video frames paint
    state = browser.state()
    shots = Path(os.environ.get("LUMIERE_EVAL_SCREENSHOTS") or tmp_path_factory.getbasetemp() / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    png = shots / f"dashboard_{page}.png"
    png.write_bytes(base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"]))
    import matplotlib.image

    image = matplotlib.image.imread(png)[..., :3]
    assert image.shape[1] == 1280 and image.shape[0] > 500, image.shape
    assert (image * 255).std() > 20, f"{png} is blank"
    assert state["exceptions"] == 0 and "Traceback" not in state["text"], state["text"][:2000]
    assert state["errors"] == [], state["errors"]
    if page in ("videos", "compare", "drilldown"):
        assert state["videos"] >= 2, state  # the prompt's markup above stayed literal text (innerText)


@pytest.mark.parametrize("view", list(DRILLDOWNS))
def test_drilldown_with_leave_one_out_effects_renders_in_chromium(server, browser, view, tmp_path_factory):
    query, wanted = DRILLDOWNS[view]
    browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=1800, deviceScaleFactor=1, mobile=False)
    try:
        browser.call("Page.navigate", url=f"{server}/?page=drilldown&{query}")

        def rendered():
            state = browser.state()
            done = all(t in state["text"] for t in wanted) and not state["running"] and state["skeletons"] == 0
            return state if done and state["painted_tables"] >= state["tables"] >= 1 and state["videos"] >= 6 else None

        _wait(rendered, 90, f"{view} to render {wanted}")
        time.sleep(1.0)  # let the video frames paint
        state = browser.state()
        shots = Path(os.environ.get("LUMIERE_EVAL_SCREENSHOTS") or tmp_path_factory.getbasetemp() / "screenshots")
        shots.mkdir(parents=True, exist_ok=True)
        png = shots / f"dashboard_{view}.png"
        png.write_bytes(base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"]))
    finally:
        browser.call("Emulation.clearDeviceMetricsOverride")
    import matplotlib.image

    image = matplotlib.image.imread(png)[..., :3]
    assert image.shape[:2] == (1800, 1280) and (image * 255).std() > 20, f"{png} is blank"
    assert state["exceptions"] == 0 and state["errors"] == [] and "Traceback" not in state["text"], state["errors"]
