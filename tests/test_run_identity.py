"""A run folder's identity and lock: a rerun with other settings is refused naming each field, a resume with
another speed-only --batch-size or after kill -9 equals a clean run bit for bit, two writers never share a folder."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_runner_ucf101 import args_for, build_tree, weights  # noqa: F401 - the weights fixture

from lumiere_eval.cli import main


def _numbers(out: Path) -> dict:
    return {k: v["value"] for k, v in json.loads((out / "results.json").read_text())["metrics"].items()}


def test_each_identity_field_changed_is_refused_and_named(tmp_path, weights, capsys):  # noqa: F811
    root = build_tree(tmp_path / "data", per_class=1)
    out = tmp_path / "run"
    assert main(args_for(root, out, weights, "--metrics", "fvd")) == 0
    before = sorted(p.name for p in (out / "samples").iterdir())
    identity = json.loads((out / "identity.json").read_text())
    assert identity["height"] == 32 and identity["feature_block"] == 4 and identity["seed"] == 0
    capsys.readouterr()
    for flags, field in [(("--height", "64"), "height"), (("--width", "48"), "width"),
                         (("--num-frames", "20"), "num_frames"), (("--fps", "10"), "fps"), (("--seed", "1"), "seed"),
                         (("--model-arg", "noise=3"), "model_args.noise"), (("--prompts", "person-template-v1"),
                                                                            "prompts.hash"),
                         (("--num-samples", "6"), "num_samples"), (("--fvd-covariance", "unbiased"), "fvd_protocol"),
                         (("--feature-block", "3"), "feature_block"), (("--num-real", "2"), "num_real")]:
        assert main(args_for(root, out, weights, "--metrics", "fvd", *flags)) == 1, flags
        err = capsys.readouterr().err
        assert f"differing: {field} (recorded" in err or f"; {field} (recorded" in err, (flags, err)
        assert "--overwrite" in err and "new --out" in err
    assert sorted(p.name for p in (out / "samples").iterdir()) == before  # nothing was touched
    # speed-only options and another metric are not part of the identity
    assert main(args_for(root, out, weights, "--metrics", "fvd,kvd", "--batch-size", "2")) == 0
    # --overwrite starts again with the new settings
    assert main(args_for(root, out, weights, "--metrics", "fvd", "--height", "40", "--overwrite")) == 0
    assert json.loads((out / "identity.json").read_text())["height"] == 40


def test_resume_with_another_batch_size_equals_a_clean_run(tmp_path, weights):  # noqa: F811
    root = build_tree(tmp_path / "data")
    clean = tmp_path / "clean"
    assert main(args_for(root, clean, weights, "--cache-dir", str(tmp_path / "c1"))) == 0
    resumed = tmp_path / "resumed"
    extra = ("--cache-dir", str(tmp_path / "c2"))
    assert main(args_for(root, resumed, weights, "--batch-size", "2", *extra)) == 0
    (resumed / "results.json").unlink()
    for sample in sorted((resumed / "samples").glob("*.json"))[4:]:
        sample.unlink()
    assert main(args_for(root, resumed, weights, "--batch-size", "3", *extra)) == 0
    assert _numbers(resumed) == _numbers(clean)


def test_resume_after_kill_9_equals_a_clean_run(tmp_path, weights):  # noqa: F811
    root = build_tree(tmp_path / "data")
    killed = tmp_path / "killed"
    argv = args_for(root, killed, weights, "--num-samples", "24", "--batch-size", "1", "--cache-dir",
                    str(tmp_path / "c1"))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parent))
    proc = subprocess.Popen([sys.executable, "-m", "lumiere_eval", *argv], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not (killed / "samples" / "000002.json").exists() and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and not (killed / "results.json").exists()
    assert main(args_for(root, killed, weights, "--num-samples", "24", "--cache-dir", str(tmp_path / "c1"))) == 0
    clean = tmp_path / "clean"
    assert main(args_for(root, clean, weights, "--num-samples", "24", "--cache-dir", str(tmp_path / "c2"))) == 0
    assert _numbers(killed) == _numbers(clean)


def test_a_second_writer_is_refused_naming_the_holder_or_waits(tmp_path, weights, capsys):  # noqa: F811
    root = build_tree(tmp_path / "data", per_class=1)
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom pathlib import Path\nfrom lumiere_eval.runner.run_folder import run_folder_lock\n"
        f"with run_folder_lock(Path({str(out)!r})):\n    print('locked', flush=True)\n    time.sleep(float(sys.argv[1]))\n"),
        "3"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(args_for(root, out, weights, "--metrics", "fvd")) == 1
        err = capsys.readouterr().err
        assert f"pid {holder.pid}" in err and "--wait" in err
        assert not (out / "samples").exists() and not (out / "identity.json").exists()  # it wrote nothing
        started = time.time()
        assert main(args_for(root, out, weights, "--metrics", "fvd", "--wait")) == 0
        assert holder.poll() is not None and time.time() - started > 0.5  # it ran only after the holder left
    finally:
        holder.kill()
        holder.wait()


def test_shards_of_one_run_share_the_folder_but_not_a_part(tmp_path):
    from lumiere_eval.runner.run_folder import RunFolderBusyError, run_folder_lock

    out = tmp_path / "run"
    script = ("import sys, time\nfrom pathlib import Path\nfrom lumiere_eval.runner.run_folder import run_folder_lock\n"
              f"with run_folder_lock(Path({str(out)!r}), 'shard0of2'):\n    print('locked', flush=True)\n"
              "    time.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with run_folder_lock(out, "shard1of2"):
            pass  # another shard of the same run
        with pytest.raises(RunFolderBusyError, match=rf"\(shard0of2\) is being written .*pid {holder.pid}"):
            with run_folder_lock(out, "shard0of2"):
                pass
        with pytest.raises(RunFolderBusyError, match=f"pid {holder.pid}"):
            with run_folder_lock(out):
                pass
    finally:
        holder.kill()
        holder.wait()
