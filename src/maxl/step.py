"""One training iteration, shared by `maxl train` and `maxl bench`: the input pipeline (uint8
rows -> normalised, augmented float batch on the device) and the multi-task step with the
method's own step (MAXL: the generator) between the backward and the optimiser step."""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from maxl.data.augment import augment_batch
from maxl.data.batches import to_float
from maxl.distributed import Ranks, unwrap
from maxl.errors import MaxlError
from maxl.losses import focal_loss
from maxl.methods import AuxiliaryLabels
from maxl.types import MetaBatch


class NonFiniteLoss(MaxlError):
    """The training loss became NaN or infinite; nothing of that step was applied."""


def precision_context(
    device: torch.device, precision: str
) -> contextlib.AbstractContextManager[None]:
    """bfloat16 autocast for 'bf16' where the device supports it; nothing for 'fp32'."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision != "bf16":
        raise MaxlError(f"unknown --precision {precision!r}; choose fp32 or bf16")
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise MaxlError(f"{device} does not support bfloat16; use --precision fp32")
    return torch.autocast(device.type, dtype=torch.bfloat16)


def prepare_batch(
    images: torch.Tensor,
    mean: torch.Tensor,
    std: torch.Tensor,
    *,
    pad: int,
    flip: bool,
    rng: torch.Generator,
    batch_size: int | None = None,
    part: slice = slice(None),
) -> torch.Tensor:
    """uint8 [N, C, H, W] on the device -> normalised float batch, randomly cropped and flipped,
    channels-last on CUDA (faster convolutions there); feature vectors are only standardised.
    `images` may be the `part` of a batch of `batch_size` (see augment_batch)."""
    if images.dim() == 2:
        return to_float(images, mean, std)
    x = augment_batch(
        to_float(images, mean, std),
        pad=pad,
        flip=flip,
        generator=rng,
        batch_size=batch_size,
        part=part,
    )
    return x.contiguous(memory_format=torch.channels_last) if x.is_cuda else x


def train_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    method: AuxiliaryLabels,
    x: torch.Tensor,
    y: torch.Tensor,
    rows: torch.Tensor,
    *,
    aux_weight: float,
    focal_gamma: float,
    precision: contextlib.AbstractContextManager[None] | None = None,
    where: str = "this step",
    ranks: Ranks | None = None,
    meta: MetaBatch = None,
) -> torch.Tensor:
    """L_train on the batch, backward, the method's step, the optimiser step; returns the
    detached [total, primary, auxiliary] losses. A non-finite loss stops before any update.

    Data-parallel (`ranks`): x, y, rows are this rank's equal shard, `net` is DDP-wrapped (its
    backward averages the gradients), the method gets the unwrapped network, and the losses
    returned and checked are the global batch's, so every rank stops at the same step. `meta`
    is the method's meta batch (x', y'), None for this batch."""
    with precision or contextlib.nullcontext():
        targets = method.targets(x, y, rows)
        primary_logits, aux_logits = net(x)
        primary_loss = focal_loss(primary_logits.float(), y, focal_gamma)
        if targets is None:
            aux_loss = torch.zeros_like(primary_loss)
        else:
            aux_loss = aux_weight * focal_loss(aux_logits.float(), targets, focal_gamma)
        loss = primary_loss + aux_loss
        losses = torch.stack([loss, primary_loss, aux_loss]).detach()
        if ranks is not None:
            ranks.mean_([losses])
        if not torch.isfinite(losses[0]):
            raise NonFiniteLoss(
                f"the training loss became {losses[0].item()} at {where}; "
                "lower --lr (or --gen-lr) and run again"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        method.before_update(unwrap(net), x, y, lr=optimizer.param_groups[0]["lr"], meta=meta)
    optimizer.step()
    return losses
