"""Decode ahead of the network: worker processes read the clips of the next videos while the extractor runs.

Processes, not threads: PyAV holds the GIL for part of each decode, so threads scale unevenly
(benchmarks/bench_feature_pipeline.py measures both). Each worker takes one video at a time, so a worker that
dies (a file that crashes the decoder) names the video it was on: that video is reported as unreadable with
the exit status and a fresh worker takes its place. At most `depth` videos are handed out and not yet taken
by the consumer, so decoded memory stays below `depth` videos of at most `--max-video-mb` each.
Results come back in the order asked, so the numbers cannot depend on the number of workers.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.connection import wait

import numpy as np

from lumiere_eval.video import ClipSampling, VideoReadError
from lumiere_eval.video.clips import read_clips

MAX_AUTO_WORKERS = 8  # default cap: past this, one extractor rarely waits on decoding (docs/performance.md)
MIN_VIDEOS_FOR_POOL = 16  # fewer videos to decode are read in-process: starting workers would cost more


def decode_video(path: str, samplings: dict[str, ClipSampling | None], key: str, max_bytes: int
                 ) -> dict[str, np.ndarray]:
    """The clips of one video (the function every worker runs; another may be given for a test hook)."""
    return read_clips(path, samplings, key, max_bytes=max_bytes)


def default_workers(device: str = "cpu", cores: int | None = None, extractor_threads: int | None = None,
                    ranks_per_node: int | None = None) -> int:
    """The cores not used by the extractor (0: none free, decode in-process), at most MAX_AUTO_WORKERS.

    On a GPU the extractor needs about one core to feed the device; on the CPU it uses torch's thread count. Under
    torchrun the node's cores are shared by its ranks (`ranks_per_node`, default $LOCAL_WORLD_SIZE): 8 GPU ranks on
    16 cores get 1 decode worker each, not 8.
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if ranks_per_node is None:
        ranks_per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    cores //= max(1, ranks_per_node)
    if extractor_threads is None:
        if str(device).startswith("cpu"):
            import torch

            extractor_threads = torch.get_num_threads()
        else:
            extractor_threads = 1
    return max(0, min(MAX_AUTO_WORKERS, cores - extractor_threads))


Task = tuple[int, str, str]  # item index, path, clip key
Result = tuple[dict[str, np.ndarray] | None, Exception | None]


def decode_serial(tasks: list[Task], samplings: dict, max_bytes: int,
                  decode: Callable = decode_video) -> Iterator[tuple[int, Result]]:
    """The same stream as DecodePool.results, decoded in this process (no workers)."""
    for i, path, key in tasks:
        try:
            yield i, (decode(path, samplings, key, max_bytes), None)
        except VideoReadError as err:
            yield i, (None, err)


def _worker_main(conn, decode: Callable, samplings: dict, max_bytes: int) -> None:
    """Loop of one worker: receive (index, path, key), send back (clips, None) or (None, error)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the parent is gone
            return
        if task is None:
            return
        _, path, key = task
        try:
            reply: Result = (decode(path, samplings, key, max_bytes), None)
        except Exception as err:  # noqa: BLE001 - sent to the parent, which skips or re-raises it
            reply = (None, err)
        try:
            conn.send(reply)
        except Exception as err:  # noqa: BLE001 - an error that cannot be pickled is sent as text
            conn.send((None, RuntimeError(f"{path}: {type(err).__name__}: {err}")))


class _Worker:
    def __init__(self, ctx, decode: Callable, samplings: dict, max_bytes: int):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, decode, samplings, max_bytes), daemon=True,
                                   name="lumiere-eval-decode")
        self.process.start()
        child.close()
        self.task: Task | None = None

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.conn.close()


def _death_reason(process) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exit code {code}"
    return f"the decoder process died on this file ({how}); a new decode worker took its place"


class DecodePool:
    """`workers` decode processes fed in order, at most `depth` videos handed out and not yet consumed.

    Use as a context manager; `results(tasks)` yields `(index, (clips, error))` in the order of `tasks`.
    `peak_pending` is the most videos ever handed out and not consumed (the queue bound, <= depth).
    """

    def __init__(self, workers: int, samplings: dict, max_bytes: int, depth: int,
                 decode: Callable = decode_video, start_method: str = "spawn"):
        if workers < 1 or depth < 1:
            raise ValueError("DecodePool needs workers >= 1 and depth >= 1")
        self.depth = depth
        self.peak_pending = 0
        self.replaced = 0
        self._spawn = lambda: _Worker(multiprocessing.get_context(start_method), decode, samplings, max_bytes)
        self._workers = [self._spawn() for _ in range(workers)]
        self._lock = threading.Condition()
        self._done: dict[int, Result] = {}
        self._pending = 0
        self._closed = False
        self._failure: BaseException | None = None

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the feeder and every worker."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if getattr(self, "_feeder", None) is not None:
            self._feeder.join()
        for worker in self._workers:
            worker.stop()

    def results(self, tasks: list[Task]) -> Iterator[tuple[int, Result]]:
        """Decoded clips (or the error) of every task, in the order given."""
        self._feeder = threading.Thread(target=self._feed, args=(list(tasks),), daemon=True,
                                        name="lumiere-eval-decode-feeder")
        self._feeder.start()
        for i, _, _ in tasks:
            with self._lock:
                while i not in self._done and self._failure is None:
                    self._lock.wait()
                if i not in self._done:
                    raise RuntimeError("the decode feeder stopped") from self._failure
                result = self._done.pop(i)
                self._pending -= 1
                self._lock.notify_all()
            yield i, result

    def _feed(self, tasks: list[Task]) -> None:
        try:
            self._feed_loop(deque(tasks))
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, which raises it
            with self._lock:
                self._failure = err
                self._lock.notify_all()

    def _feed_loop(self, todo: deque) -> None:
        while todo or any(w.task is not None for w in self._workers):
            with self._lock:
                if self._closed:
                    return
                for worker in self._workers:
                    if todo and worker.task is None and self._pending < self.depth:
                        worker.task = todo.popleft()
                        worker.conn.send(worker.task)
                        self._pending += 1
                        self.peak_pending = max(self.peak_pending, self._pending)
            busy = [w for w in self._workers if w.task is not None]
            if not busy:  # every worker idle: the consumer has `depth` videos to take first
                with self._lock:
                    while self._pending >= self.depth and not self._closed:
                        self._lock.wait()
                continue
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=0.05)
            for k, worker in enumerate(self._workers):
                if worker.task is None or (worker.conn not in ready and worker.process.sentinel not in ready):
                    continue
                result = self._receive(worker)
                if result is None:
                    continue  # the sentinel fired but the reply is still on its way
                with self._lock:
                    self._done[worker.task[0]] = result
                    self._lock.notify_all()
                worker.task = None
                if not worker.process.is_alive():
                    worker.conn.close()
                    self._workers[k] = self._spawn()
                    self.replaced += 1

    @staticmethod
    def _receive(worker: _Worker) -> Result | None:
        """The worker's reply, or for a worker that died with no reply the error naming the cause."""
        if worker.conn.poll():
            try:
                return worker.conn.recv()
            except (EOFError, OSError):
                pass
        elif worker.process.is_alive():
            return None
        worker.process.join()
        _, path, _ = worker.task
        return None, VideoReadError(path, _death_reason(worker.process))
