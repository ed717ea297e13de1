"""Data-parallel training with PyTorch's own engine: what differs between one process and `torchrun -nN`.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT; `setup()` reads
them and joins the process group (gloo on CPU, nccl on CUDA). Every rank loads the same data and the same
seeded split; DistributedSampler deals each rank its share of every epoch's shuffle, DDP averages the
gradients, and only rank 0 writes files. The global batch is `batch` in both cases (each rank takes
batch / world), so one process and N processes take the same optimiser steps and reach comparable accuracy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from designer.machine import Device, DeviceError  # noqa: F401 (DeviceError: what setup raises)


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def from_env() -> tuple[int, int, int, int]:
    """(rank, world, local_rank, local_world) as torchrun sets them; (0, 1, 0, 1) outside torchrun."""
    e = os.environ
    return (
        int(e.get("RANK", 0)),
        int(e.get("WORLD_SIZE", 1)),
        int(e.get("LOCAL_RANK", 0)),
        int(e.get("LOCAL_WORLD_SIZE", e.get("WORLD_SIZE", 1))),
    )


def setup(device: str) -> Dist:
    """Join the process group when launched by torchrun (or use one already joined); pick the device."""
    rank, world, local_rank, local_world = from_env()
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
    asked = Device.parse(device).require()  # designer.machine: cpu, cuda, cuda:N that this machine has
    cuda = asked.is_cuda
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    if cuda:  # under torchrun each process takes its local rank's GPU
        dev = torch.device("cuda", local_rank if world > 1 else (asked.index or 0))
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    return Dist(rank, world, local_rank, local_world, dev)


def set_threads(threads: int | None, d: Dist) -> None:
    """Intra-op threads: as asked, else the cores shared out between the processes on this machine."""
    from designer.threads import threads_for_run

    threads = threads_for_run(threads, d.local_world)  # the free cores shared out (designer/threads.py)
    if threads is not None:
        torch.set_num_threads(max(1, threads))


def any_rank(flag: bool, d: Dist) -> bool:
    """True on every rank if it is true on one (a stop request must end all ranks at the same batch)."""
    if not d.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=d.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def sum_all(values: list[float], d: Dist) -> list[float]:
    """Element-wise sum over ranks (loss sums, correct counts, image counts)."""
    if not d.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=d.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()
