"""Data-parallel runs launched by torchrun: the process group, this process's place in it, and
sums across processes (plain, and differentiable in both autodiff modes).

torch.distributed is only initialised when torchrun's WORLD_SIZE says there is more than one
process; every other run sees no process group and none of this costs anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from maxl.errors import MaxlError


@dataclass(frozen=True)
class Ranks:
    """This process's rank among world_size processes that each hold one shard of every batch."""

    rank: int
    world_size: int

    @property
    def main(self) -> bool:
        """Rank 0 writes the files and shows the progress."""
        return self.rank == 0

    def shard(self, size: int) -> slice:
        """This rank's equal share of a global batch of `size` items (a multiple of world_size)."""
        share = size // self.world_size
        return slice(self.rank * share, (self.rank + 1) * share)

    def sum_(self, tensors: Sequence[torch.Tensor]) -> None:
        """Replace each tensor by its sum over all ranks, in one collective."""
        if not tensors:
            return
        flat = torch.cat([t.detach().reshape(-1) for t in tensors])
        dist.all_reduce(flat)
        for t, part in zip(tensors, flat.split([t.numel() for t in tensors]), strict=True):
            t.detach().copy_(part.view_as(t))

    def mean_(self, tensors: Sequence[torch.Tensor]) -> None:
        """Replace each tensor by its mean over all ranks (equal shards: the global batch's)."""
        self.sum_(tensors)
        for t in tensors:
            t.detach().div_(self.world_size)

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The sum of `tensor` over all ranks, as a new tensor without a graph."""
        total = tensor.detach().clone()
        dist.all_reduce(total)
        return total

    def broadcast_buffers(self, module: nn.Module) -> None:
        """Give every rank rank 0's buffers (BatchNorm running statistics gathered locally)."""
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


def current() -> Ranks | None:
    """The process group this process belongs to, or None outside a multi-process run."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    return Ranks(rank=dist.get_rank(), world_size=dist.get_world_size())


def launched_world_size() -> int:
    """How many processes torchrun started for this run (1 without torchrun)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise MaxlError(
            f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a number; launch with torchrun"
        ) from None


def local_device(device: torch.device) -> torch.device:
    """Under torchrun each process drives the GPU of its LOCAL_RANK; CPU stays CPU."""
    if device.type != "cuda" or launched_world_size() < 2:
        return device
    index = int(os.environ.get("LOCAL_RANK", "0"))
    if index >= torch.cuda.device_count():
        raise MaxlError(
            f"process {index} on this node has no GPU ({torch.cuda.device_count()} visible); "
            "start at most one process per GPU with torchrun --nproc_per_node"
        )
    return torch.device("cuda", index)


@contextmanager
def process_group(device: torch.device) -> Iterator[Ranks | None]:
    """Join torchrun's process group (NCCL on CUDA, gloo on CPU) for the duration, if launched
    with more than one process; yields this process's Ranks, or None for a one-process run."""
    if launched_world_size() < 2 or dist.is_initialized():
        yield current()
        return
    if not dist.is_available():
        raise MaxlError("this PyTorch build has no torch.distributed; run one process")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        ranks = current()
        yield ranks
        dist.barrier()
    finally:
        dist.destroy_process_group()


def data_parallel(net: nn.Module, device: torch.device, *, find_unused: bool) -> nn.Module:
    """The network wrapped for gradient averaging across ranks (DDP)."""
    return DistributedDataParallel(
        net,
        device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=find_unused,
    )


def unwrap(net: nn.Module) -> nn.Module:
    """The network itself, out of its DDP wrapper: for functional calls and double passes, which
    the wrapper does not support."""
    return net.module if isinstance(net, DistributedDataParallel) else net


class _SumAcrossRanks(torch.autograd.Function):
    """Σ over ranks. Reverse mode: every rank's output depends on every input, so the input's
    gradient is the sum of the output gradients (itself through this function, so that a
    double backward, as the implicit hypergradient's Hessian products, sums again). Forward
    mode: tangents add like the values."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        return _SumAcrossRanks.apply(grad)

    @staticmethod
    def jvp(ctx: torch.autograd.function.FunctionCtx, tangent: torch.Tensor) -> torch.Tensor:
        total = tangent.clone()
        dist.all_reduce(total)
        return total


def sum_across_ranks(tensor: torch.Tensor) -> torch.Tensor:
    """Σ of `tensor` over all ranks, differentiable in reverse and forward mode."""
    return _SumAcrossRanks.apply(tensor)
