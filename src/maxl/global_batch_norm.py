"""Batch normalisation over the global batch of a data-parallel run (`--sync-bn`).

nn.SyncBatchNorm needs a GPU and is a custom autograd function without a forward-mode
derivative, so neither a CPU (gloo) run nor the `exact` hypergradient (a Jacobian-vector
product) could use it. This layer builds the statistics from ordinary tensor operations and a
sum across ranks that both autodiff modes know, so every pass (multi-task step, meta passes,
the generator's backward) sees the statistics of the whole global batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from maxl.distributed import sum_across_ranks


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training-mode mean and variance span every rank's shard (any input rank
    >= 2, channels in dim 1); in eval mode it is plain BatchNorm with the running statistics."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(input)
        if not self.training and self.running_mean is not None:
            return F.batch_norm(
                input,
                self.running_mean,
                self.running_var,
                self.weight,
                self.bias,
                False,
                0.0,
                self.eps,
            )
        dims = [0, *range(2, input.dim())]
        shape = [1, -1] + [1] * (input.dim() - 2)
        x = input.to(torch.promote_types(input.dtype, torch.float32))  # bf16 in fp32
        local_count = x.new_tensor([input.numel() / input.shape[1]])
        first = sum_across_ranks(torch.cat([x.sum(dims), local_count]))
        count = first[-1].detach()
        mean = first[:-1] / count
        centred = x - mean.view(shape)
        var = sum_across_ranks(centred.square().sum(dims)) / count
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.weight is not None:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.training and self.track_running_stats and self.running_mean is not None:
            self._track(mean.detach(), var.detach() * count / (count - 1).clamp_min(1))
        return out.to(input.dtype)

    @torch.no_grad()
    def _track(self, mean: torch.Tensor, unbiased_var: torch.Tensor) -> None:
        """Update the running statistics as nn.BatchNorm does (momentum or cumulative mean)."""
        # forward tracks only with track_running_stats, which made these buffers
        assert self.num_batches_tracked is not None
        assert self.running_mean is not None and self.running_var is not None
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.mul_(1 - factor).add_(factor * mean)
        self.running_var.mul_(1 - factor).add_(factor * unbiased_var)


def to_global_batch_norm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm layer of `module` by a GlobalBatchNorm that shares its parameters
    (optimisers keep working) and copies its running statistics; returns the converted module."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(
        module, GlobalBatchNorm
    ):
        converted = GlobalBatchNorm(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
            device=module.running_mean.device if module.running_mean is not None else None,
        )
        if module.affine:
            converted.weight = module.weight
            converted.bias = module.bias
        if module.track_running_stats:
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
        converted.train(module.training)
        return converted
    for name, child in module.named_children():
        module.add_module(name, to_global_batch_norm(child))
    return module
