"""Per-epoch analysis of a run on a fixed sample of training images: the auxiliary labels'
entropy, class usage and agreement with the human labels, and the cosine between the primary
and auxiliary gradients on the shared trunk.

It changes nothing the training sees: no augmentation (no draw from the run's generator), the
generator in eval mode, the network's BatchNorm statistics updated on copies, and gradients
returned by autograd.grad instead of accumulated in .grad. So a run trains identically with
any --analysis-size, and resumes exactly.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.func import functional_call

from maxl.analysis.metrics import (
    class_usage,
    gradient_cosine,
    marginal_entropy,
    mean_label_entropy,
    nmi_within_groups,
    normalized_mutual_information,
)
from maxl.data.batches import to_float
from maxl.fit_state import FitState
from maxl.hypergrad.common import batch_statistics, cloned_buffers
from maxl.losses import focal_loss


def analysis_rows(num_train: int, size: int, seed: int) -> torch.Tensor:
    """A fixed, seeded sample of `size` training rows (all of them when size >= num_train)."""
    if size >= num_train:
        return torch.arange(num_train)
    order = torch.randperm(num_train, generator=torch.Generator().manual_seed(seed))
    return order[:size].sort().values


def label_distributions(run: FitState, rows: torch.Tensor) -> torch.Tensor | None:
    """The method's current auxiliary labels of training `rows` as distributions [N, K]
    (hard labels one-hot), computed in batches; None for a method without labels."""
    parts = []
    for chunk in rows.split(run.config.batch_size):
        x = to_float(run.x_train[chunk], run.mean, run.std)
        labels = run.method.labels(x, run.y_train[chunk], chunk)
        if labels is None:
            return None
        if labels.dim() == 1:
            labels = F.one_hot(labels, run.hierarchy.num_aux)
        parts.append(labels.detach().float())
    return torch.cat(parts)


def most_likely_classes(run: FitState, rows: torch.Tensor) -> torch.Tensor | None:
    """Each row's most likely auxiliary class (on the CPU), None for a method without labels."""
    labels = label_distributions(run, rows)
    return None if labels is None else labels.argmax(1).cpu()


def trunk_gradient_cosine(run: FitState, rows: torch.Tensor, labels: torch.Tensor) -> float:
    """Cosine between ∇ of the primary loss and ∇ of the auxiliary loss (its training weight
    included) over the sample, each taken on the backbone's parameters as one flat vector."""
    net, config = run.net, run.config
    trunk = {f"backbone.{n}": p for n, p in net.backbone.named_parameters() if p.requires_grad}
    params = {n: p for n, p in net.named_parameters() if p.requires_grad}
    primary = [torch.zeros_like(p) for p in trunk.values()]
    auxiliary = [torch.zeros_like(p) for p in trunk.values()]
    chunks = max(1, round(len(rows) / config.batch_size))  # no chunk of one row for BatchNorm
    with batch_statistics(net):
        for part, targets in zip(
            rows.tensor_split(chunks), labels.tensor_split(chunks), strict=True
        ):
            x = to_float(run.x_train[part], run.mean, run.std)
            primary_logits, aux_logits = functional_call(net, {**params, **cloned_buffers(net)}, x)
            share = len(part) / len(rows)
            losses = (
                focal_loss(primary_logits, run.y_train[part], config.focal_gamma),
                config.aux_weight * focal_loss(aux_logits, targets, config.focal_gamma),
            )
            for loss, total in zip(losses, (primary, auxiliary), strict=True):
                grads = torch.autograd.grad(
                    share * loss, list(trunk.values()), retain_graph=True, allow_unused=True
                )
                for sum_, g in zip(total, grads, strict=True):
                    if g is not None:
                        sum_ += g
    return gradient_cosine(primary, auxiliary)


def measure(run: FitState, rows: torch.Tensor) -> dict[str, Any]:
    """The analysis record of one epoch (empty for a method without auxiliary labels)."""
    labels = label_distributions(run, rows)
    if labels is None:
        return {}
    record: dict[str, Any] = {}
    if len(rows) >= 2:
        record["grad_cosine"] = trunk_gradient_cosine(run, rows, labels)
    record["aux_entropy"] = mean_label_entropy(labels)
    record["aux_marginal_entropy"] = marginal_entropy(labels)
    record["aux_usage"] = class_usage(labels)
    fine = run.task.fine_train
    if fine is not None:
        generated, human = labels.argmax(1).cpu(), fine[rows.cpu()]
        record["nmi_human"] = normalized_mutual_information(generated, human)
        within = nmi_within_groups(generated, human, run.y_train[rows].cpu())
        if within is not None:
            record["nmi_human_within"] = within
    return record
