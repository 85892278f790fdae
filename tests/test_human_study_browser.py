"""A HIT preview page opened in headless Chromium shows both videos, the prompt as text and the questions.

Pages are served from 127.0.0.1 only; the browser resolves no other host (--host-resolver-rules), so the
crowd-html-elements script from assets.crowd.aws fails fast and the page must render without it.
Skipped with the reason when no chromium binary is installed (Debian: apt-get install chromium).
"""
from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from lumiere_eval.human_study.sources import load_runs
from lumiere_eval.human_study.study import create_study
from test_human_study_support import COLORS, make_manifest

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install -y chromium)")
HOSTILE = "<script>document.title='pwned'</script> a cat"


@pytest.fixture(scope="module")
def served_preview(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    records = load_runs([str(make_manifest(root / "videos", [HOSTILE, "a dog"]))])
    study = create_study(records, root / "study", ["quality", "motion", "text"], raters=2, vigilance=0.0, seed=0)
    hit = next(h for h in study["hits"] if h["prompt"] == HOSTILE)
    handler = functools.partial(_QuietHandler, directory=str(root / "study"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/preview/{hit['item_id']}.html", hit, root
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


def _chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
               "--autoplay-policy=no-user-gesture-required", "--virtual-time-budget=4000", *extra, url]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_preview_dom_has_both_videos_escaped_prompt_and_questions(served_preview, tmp_path):
    url, hit, _ = served_preview
    dom = _chromium(url, tmp_path / "profile", "--dump-dom").stdout
    assert dom.count("<video") == 2
    assert f'src="../media/{hit["left"]["media"]}"' in dom and f'src="../media/{hit["right"]["media"]}"' in dom
    for question in ("Which video has better visual quality?", "Which video has more realistic and natural motion?",
                     "Which video matches the text description better?"):
        assert question in dom
    assert dom.count('type="radio"') == 6
    # the prompt's markup stayed text: no injected script ran or exists as an element
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt; a cat" in dom
    assert "<title>pwned</title>" not in dom and "<script>document.title" not in dom


def test_preview_screenshot_shows_the_two_videos(served_preview, tmp_path):
    url, hit, _ = served_preview
    shot = tmp_path / "shot.png"
    _chromium(url, tmp_path / "profile", "--window-size=1000,900", f"--screenshot={shot}")
    assert shot.is_file()
    import matplotlib.image

    image = (matplotlib.image.imread(shot)[..., :3] * 255).astype(int)
    assert image.std() > 20, "the screenshot is blank"
    # the two test videos are solid red (alpha) and green (beta): both colours must be on screen, left and right
    half = image.shape[1] // 2
    for model, side in ((hit["left"]["model"], slice(0, half)), (hit["right"]["model"], slice(half, None))):
        target = np.array(COLORS[model])
        close = np.abs(image[:, side] - target).max(axis=-1) < 40
        assert close.sum() > 5000, f"{model}'s video is not visible on the {side} half"
