"""Weight registry and downloader, against a real HTTP server on 127.0.0.1 started by the test."""
from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import warnings

import numpy as np
import pytest
import torch

from lumiere_eval import LumiereEvalError
from lumiere_eval.extractors import weights
from lumiere_eval.extractors.download import ChecksumMismatchError, DownloadError, download, sha256_file

PAYLOAD = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD with Range support; `cut_first` requests stop after `cut_at` bytes."""

    def do_GET(self):  # noqa: N802 (http.server naming)
        server = self.server
        server.requests.append(self.headers.get("Range"))
        start = 0
        if self.headers.get("Range") and server.ranges:
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.cut_first > 0:
            server.cut_first -= 1
            self.wfile.write(body[:server.cut_at])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.requests, httpd.cut_first, httpd.cut_at, httpd.ranges = [], 0, 100_000, True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(httpd) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}/w.pt"


def test_full_download_checks_sha_and_leaves_no_part(server, tmp_path):
    dest = download(_url(server), tmp_path / "w.pt", sha256=PAYLOAD_SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "w.pt.part").exists()
    assert server.requests == [None]


def test_interrupted_download_resumes_with_range(server, tmp_path):
    server.cut_first = 1
    dest = download(_url(server), tmp_path / "w.pt", sha256=PAYLOAD_SHA, progress=False)
    assert sha256_file(dest) == PAYLOAD_SHA
    assert server.requests == [None, "bytes=100000-"]


def test_existing_part_file_is_resumed(server, tmp_path):
    (tmp_path / "w.pt.part").write_bytes(PAYLOAD[:12345])
    download(_url(server), tmp_path / "w.pt", sha256=PAYLOAD_SHA, progress=False)
    assert server.requests == ["bytes=12345-"]
    assert (tmp_path / "w.pt").read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    server.ranges = False
    (tmp_path / "w.pt.part").write_bytes(b"garbage that must not stay in front")
    download(_url(server), tmp_path / "w.pt", sha256=PAYLOAD_SHA, progress=False)
    assert (tmp_path / "w.pt").read_bytes() == PAYLOAD


def test_checksum_mismatch_deletes_part_and_keeps_no_file(server, tmp_path):
    with pytest.raises(ChecksumMismatchError, match="expected 0000"):
        download(_url(server), tmp_path / "w.pt", sha256="0" * 64, progress=False)
    assert not (tmp_path / "w.pt").exists() and not (tmp_path / "w.pt.part").exists()


def test_too_many_cuts_keep_part_for_later(server, tmp_path):
    server.cut_first, server.cut_at = 5, 1000
    with pytest.raises(DownloadError, match="cut 2 times"):
        download(_url(server), tmp_path / "w.pt", attempts=2, progress=False)
    assert (tmp_path / "w.pt.part").stat().st_size == 2000
    assert not (tmp_path / "w.pt").exists()


def test_offline_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path))
    with socket.socket() as probe:  # a port nobody listens on: connection refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(weights.WeightsError) as err:
        weights.fetch("i3d_torchscript", url=f"http://127.0.0.1:{port}/x.pt", timeout=2, progress=False)
    message = str(err.value)
    assert "--i3d PATH" in message and str(tmp_path / "weights" / "i3d_torchscript.pt") in message


def test_fetch_into_cache_through_registry(server, tmp_path, monkeypatch):
    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path))
    spec = weights.WeightSpec("toy", "toy.bin", (_url(server),), PAYLOAD_SHA, "test", "state_dict", "--toy",
                              "test", "test payload")
    monkeypatch.setitem(weights.WEIGHTS, "toy", spec)
    path = weights.fetch("toy", progress=False)
    assert path == tmp_path / "weights" / "toy.bin"
    resolved = weights.verify("toy")
    assert resolved.verified and resolved.sha256 == PAYLOAD_SHA
    path.write_bytes(PAYLOAD[:-1] + b"x")  # corrupted cache copy is an error, not a warning
    with pytest.raises(weights.WeightsError, match="differs from the published"):
        weights.verify("toy")


def test_local_file_with_other_checksum_is_allowed_but_unverified(tmp_path):
    path = tmp_path / "my_inception.pth"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.warns(weights.UnverifiedWeightsWarning, match="unverified"):
        resolved = weights.resolve("pt_inception", local_path=path)
    assert not resolved.verified and resolved.sha256 == sha256_file(path)


def test_local_torchscript_without_published_checksum_is_format_checked(tmp_path):
    good = tmp_path / "det.pt"
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(good))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resolved = weights.resolve("c3d_ucf101", local_path=good)
    assert resolved.status == "format checked, no published checksum" and not resolved.verified
    assert any(issubclass(w.category, weights.UnverifiedWeightsWarning) for w in caught)
    bad = tmp_path / "bad.pt"
    torch.save({"w": torch.zeros(2)}, bad)  # a zip, but no TorchScript code inside
    with pytest.raises(weights.WeightsError, match="not a TorchScript archive"):
        weights.resolve("c3d_ucf101", local_path=bad)


def test_missing_cache_without_fetch_names_flag_and_place(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path))
    with pytest.raises(weights.WeightsError, match="--c3d PATH"):
        weights.resolve("c3d_ucf101", fetch_missing=False)
    with pytest.raises(LumiereEvalError, match="unknown weights 'nope'"):
        weights.resolve("nope")


def test_weights_cli_list_path_verify(tmp_path, monkeypatch, capsys):
    from lumiere_eval.cli import main

    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path))
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    assert "i3d_pretrained_400" in out and "40d365715913c9da" in out
    assert main(["weights", "path", "clip_vit_b32"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "weights" / "ViT-B-32.pt")
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "ViT-B-32.pt").write_bytes(b"not clip")
    assert main(["weights", "verify"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_fetched_file_of_the_wrong_format_is_removed(server, tmp_path, monkeypatch):
    monkeypatch.setenv("LUMIERE_EVAL_HOME", str(tmp_path))
    spec = weights.WeightSpec("toyts", "toy.pt", (_url(server),), None, "test", "torchscript", "--toy", "test", "t")
    monkeypatch.setitem(weights.WEIGHTS, "toyts", spec)
    with pytest.raises(weights.WeightsError, match="not a TorchScript archive"):
        weights.fetch("toyts", progress=False)
    assert not (tmp_path / "weights" / "toy.pt").exists()
