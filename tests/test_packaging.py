"""Shipped files (checkpoints, model cards, HTML layouts) are inside the wheel a plain `pip install .` builds."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_carries_every_shipped_file(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert build.returncode == 0, build.stderr[-2000:]
    names = set(zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist())
    shipped = [p for p in (ROOT / "lumiere_eval" / "assets").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts]
    assert len(shipped) > 10
    missing = [str(p.relative_to(ROOT)) for p in shipped if str(p.relative_to(ROOT)) not in names]
    assert not missing, f"not in the wheel: {missing}"
    assert "lumiere_eval/dashboard/app.py" in names


def test_top_level_data_folders_point_into_the_package():
    for name in ("models", "human_study"):
        assert (ROOT / name).resolve() == (ROOT / "lumiere_eval" / "assets" / name).resolve()
