"""A run folder's identity and lock: what may be resumed in it, and who may write into it now.

Identity: every setting that changes a sample or a number (model and its options, generator checkpoints,
video size, frames, fps, prompts, seed, sample counts, protocols, feature block, extractor weights, device
and dtype) is recorded in `RUN/identity.json` by the first run. A later run into the same folder with another
identity is refused, naming each field that differs; `--overwrite` discards the folder's samples and results
and starts again. Speed-only options (`--batch-size`, `--workers`, progress) are not part of it.

Lock: `fcntl.flock` on `RUN/.lock`. A whole run holds it exclusively; the shards of one run (torchrun ranks,
`--shard i/n`) share it and each holds its own `RUN/.lock.shard<i>of<n>` exclusively. A second writer is
refused with the holder's pid, or waits with `--wait`.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from lumiere_eval import LumiereEvalError
from lumiere_eval import files

# Fields compared only on the keys both identities have (a rerun may add a metric, hence an extractor).
PER_KEY_FIELDS = ("weights",)
# What `--overwrite` removes: everything a run writes except the lock files.
RUN_OUTPUTS = (files.SAMPLES_DIR, files.ERRORS_DIR, files.SHARDS_DIR, files.RESULTS_FILE, files.SAMPLES_FILE,
               files.SUMMARY_FILE, files.SKIPPED_FILE, files.IDENTITY_FILE, files.CONFIG_FILE)


class RunIdentityError(LumiereEvalError):
    """A rerun into a run folder whose samples or numbers were made with other settings."""


class RunFolderBusyError(LumiereEvalError):
    """Another process is writing into the run folder."""


def _differences(recorded, current, prefix: str = "") -> list[str]:
    if isinstance(recorded, dict) and isinstance(current, dict):
        keys = sorted(set(recorded) & set(current)) if prefix.rstrip(".") in PER_KEY_FIELDS else \
            sorted(set(recorded) | set(current))
        out = []
        for key in keys:
            out += _differences(recorded.get(key), current.get(key), f"{prefix}{key}.")
        return out
    if recorded != current:
        return [f"{prefix.rstrip('.')} (recorded {json.dumps(recorded)}, now {json.dumps(current)})"]
    return []


def has_outputs(out: Path) -> bool:
    """Whether the folder holds anything a run wrote (samples or results)."""
    samples = out / files.SAMPLES_DIR
    return (samples.is_dir() and any(samples.iterdir())) or (out / files.RESULTS_FILE).is_file()


def clear_outputs(out: Path) -> None:
    """Remove what a run wrote into `out` (for --overwrite); the lock files stay."""
    for name in RUN_OUTPUTS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def _read_identity(path: Path) -> dict:
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        recorded = err
    if not isinstance(recorded, dict):
        found = recorded if isinstance(recorded, Exception) else f"found {type(recorded).__name__}"
        raise RunIdentityError(f"{path}: the run's identity cannot be read ({found}); use a new --out, or add "
                               "--overwrite to discard the folder's samples and results and start again.")
    return recorded


def upgrade_identity(recorded: dict) -> dict:
    """A recorded identity with protocol names from before a protocol was registered under its own name (a
    10k-sample UCF101 run recorded `fvd2048_16f+custom`, now `fvd10k_16f`): the same settings, renamed; an id is
    renamed only when everything after its name equals the registered protocol's."""
    from lumiere_eval.metrics.protocols import FVD_PROTOCOLS

    old = recorded.get("fvd_protocol")
    if not isinstance(old, str) or "+custom:" not in old:
        return recorded
    name, rest = old.split(":", 1)
    for protocol in FVD_PROTOCOLS.values():
        if protocol.id.split(":", 1)[1] == rest:
            upgraded = {**recorded, "fvd_protocol": protocol.id}
            if isinstance(recorded.get("protocol"), str):
                upgraded["protocol"] = recorded["protocol"].replace(f"_{name}_", f"_{protocol.name}_")
            return upgraded
    return recorded


def check_identity(out: Path, identity: dict, overwrite: bool = False, write: bool = True,
                   ignore: tuple[str, ...] = ()) -> None:
    """Compare `identity` with the folder's recorded one; refuse (RunIdentityError naming every differing field)
    unless `overwrite`, which clears the folder first. Records the identity when the folder has none (`write`),
    adding keys of per-key fields that are new."""
    path = out / files.IDENTITY_FILE
    current = json.loads(json.dumps(identity, sort_keys=True, default=str))
    recorded = None
    if path.is_file():
        try:
            recorded = _read_identity(path)
        except RunIdentityError:
            if not overwrite:
                raise
            clear_outputs(out)
    if recorded is not None:
        recorded = upgrade_identity(recorded)
        differing = _differences({k: v for k, v in recorded.items() if k not in ignore},
                                 {k: v for k, v in current.items() if k not in ignore})
        if differing and not overwrite:
            raise RunIdentityError(
                f"{out}: this run folder holds samples or numbers made with other settings; differing: "
                + "; ".join(differing) + ". Use a new --out for these settings, or add --overwrite to discard "
                "the folder's samples and results and start again.")
        if differing:
            clear_outputs(out)
        else:
            for field in PER_KEY_FIELDS:  # remember extractors added by this run
                if isinstance(recorded.get(field), dict) and isinstance(current.get(field), dict):
                    current[field] = recorded[field] | current[field]
            current = {**recorded, **{k: v for k, v in current.items() if k not in ignore}}
    elif has_outputs(out):
        if not overwrite:
            raise RunIdentityError(f"{out}: holds samples or results but no {files.IDENTITY_FILE} (written by an "
                                   "older lumiere-eval, or not a run folder); use a new --out, or add --overwrite "
                                   "to discard them and start again.")
        clear_outputs(out)
    if write and {k: v for k, v in current.items() if k not in ignore}:
        if not path.is_file() or _read_identity(path) != current:
            files.atomic_write_json(path, current)


def recorded_identity(out: Path) -> dict:
    """The folder's recorded identity ({} when none)."""
    path = out / files.IDENTITY_FILE
    return _read_identity(path) if path.is_file() else {}


def _holder(paths: list[Path]) -> str:
    pids = []
    for path in paths:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text:
            pids.append(text)
    return f"pid {', '.join(dict.fromkeys(pids))}" if pids else "an unknown process"


def _acquire(path: Path, mode: int, wait: bool, busy: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        if not wait:
            holder = _holder([path, *sorted(path.parent.glob(f"{files.LOCK_FILE}.*"))])
            os.close(fd)
            raise RunFolderBusyError(f"{busy} is being written by another lumiere-eval process ({holder}); rerun "
                                     "with --wait to wait for it, or use another --out") from None
        print(f"{busy}: waiting for {_holder([path])} to finish ...", flush=True)
        fcntl.flock(fd, mode)
    return fd


@contextmanager
def run_folder_lock(out: Path, part: str | None = None, wait: bool = False) -> Iterator[None]:
    """Hold the run folder's lock: exclusively for a whole run (`part` None), shared for one part of a sharded
    run plus that part's own lock (`part` like "shard0of2") exclusively."""
    out.mkdir(parents=True, exist_ok=True)
    fds = [_acquire(out / files.LOCK_FILE, fcntl.LOCK_SH if part else fcntl.LOCK_EX, wait, str(out))]
    try:
        if part:
            fds.append(_acquire(out / f"{files.LOCK_FILE}.{part}", fcntl.LOCK_EX, wait, f"{out} ({part})"))
        os.ftruncate(fds[-1], 0)
        os.pwrite(fds[-1], f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        for fd in reversed(fds):
            os.close(fd)


def load_records(folder: Path, rescore: bool = False) -> list[dict]:
    """The run's per-sample records (`samples.jsonl`), checked and sorted by sample index (`record.read_samples`),
    with every sample video checked against its record (`record.check_sample_files`: refused when one changed
    after the run; with `rescore` the changed ones carry their new hash, so what depends on them is recomputed)."""
    from lumiere_eval.files import lumiere_home
    from lumiere_eval.metrics.record import check_sample_files, read_samples
    from lumiere_eval.runner.cache import FileHashes

    path = Path(folder) / files.SAMPLES_FILE
    if not path.is_file():
        raise LumiereEvalError(f"{path}: file not found; is {folder} a finished run folder?")
    hashes = FileHashes(lumiere_home() / "file_hashes" / "run_samples.json")
    records = check_sample_files(folder, read_samples(path), rescore, hashes)
    hashes.save()
    return records


def rescored(records: list[dict]) -> list[int]:
    """Positions of the records whose video changed after the run and is rescored (`load_records(rescore=True)`)."""
    return [i for i, r in enumerate(records) if "recorded_sha256" in r]
