"""The ground-floor file helpers: checksums, atomic writes with usual permissions, the home folder."""
from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from lumiere_eval import files


def test_sha256_file_matches_hashlib_across_chunks(tmp_path):
    payload = os.urandom(3000)
    path = tmp_path / "blob.bin"
    path.write_bytes(payload)
    assert files.sha256_file(path, chunk=1024) == hashlib.sha256(payload).hexdigest()


def test_atomic_writes_have_umask_permissions_and_leave_no_temporary(tmp_path):
    old = os.umask(0o022)
    try:
        text = files.atomic_write_text(tmp_path / "a" / "note.txt", "hello")
        data = files.atomic_write_json(tmp_path / "record.json", {"b": 1, "a": Path("x")})
    finally:
        os.umask(old)
    assert stat.S_IMODE(text.stat().st_mode) == 0o644 and stat.S_IMODE(data.stat().st_mode) == 0o644
    assert json.loads(data.read_text()) == {"a": "x", "b": 1}
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["note.txt", "record.json"]


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "rows.npy"
    np.save(target, np.arange(3))
    with pytest.raises(RuntimeError):
        with files.atomic_path(target) as tmp:
            assert tmp.suffix == ".npy"
            np.save(tmp, np.zeros(5))
            raise RuntimeError("killed mid-write")
    assert np.load(target).tolist() == [0, 1, 2] and list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("value", ["", None])
def test_empty_or_unset_home_means_the_default(monkeypatch, value):
    if value is None:
        monkeypatch.delenv(files.HOME_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(files.HOME_VARIABLE, value)
    assert files.lumiere_home() == Path.home() / ".cache" / "lumiere-eval"


def test_home_variable_is_used(monkeypatch, tmp_path):
    monkeypatch.setenv(files.HOME_VARIABLE, str(tmp_path))
    assert files.lumiere_home() == tmp_path
