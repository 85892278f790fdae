"""Which part of the work this process does: torchrun ranks, a `--shard i/n` of a job array, or all of it.

Work is split by sample index (`index % world == rank`), and every per-sample result goes to disk, so
rank 0 can compute the metrics from all samples in index order: the numbers equal a single-process run's.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from lumiere_eval import LumiereEvalError


@dataclass(frozen=True)
class Shard:
    """This process's rank among `world` workers; `torchrun` tells whether a process group is in use."""

    rank: int = 0
    world: int = 1
    torchrun: bool = False

    def mine(self, index: int) -> bool:
        """Whether sample `index` is this process's work."""
        return index % self.world == self.rank

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the merged results."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every rank (no-op without a process group)."""
        if self.torchrun:
            import torch.distributed as dist

            dist.barrier()


def parse_shard(text: str) -> Shard:
    """`i/n` (0-based i) as given to `--shard` for cluster job arrays."""
    try:
        rank, world = (int(part) for part in text.split("/"))
    except ValueError:
        raise LumiereEvalError(f"--shard {text!r} is not of the form i/n (for example 0/4)") from None
    if not 0 <= rank < world:
        raise LumiereEvalError(f"--shard {text!r}: need 0 <= i < n")
    return Shard(rank, world)


def current_shard(shard_arg: str | None = None) -> Shard:
    """torchrun's rank and world size when launched by it (gloo process group), else `--shard`, else all work."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        if shard_arg:
            raise LumiereEvalError("--shard cannot be combined with torchrun; torchrun assigns the shards")
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo")
        return Shard(dist.get_rank(), dist.get_world_size(), torchrun=True)
    return parse_shard(shard_arg) if shard_arg else Shard()


def finish(shard: Shard) -> None:
    """Tear down the process group, if any."""
    if shard.torchrun:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
