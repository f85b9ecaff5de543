"""The auxiliary-class layout ψ: which auxiliary classes belong to which primary class."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from maxl.errors import MaxlError


class Hierarchy:
    """ψ: primary class i owns the contiguous block of ψ[i] auxiliary classes.

    The block of class i is [Σ_{j<i} ψ[j], Σ_{j≤i} ψ[j]); K = Σψ auxiliary classes in all.
    """

    def __init__(self, psi: Sequence[int]) -> None:
        values = list(psi)
        if not values:
            raise MaxlError("ψ is empty; give one auxiliary-class count per primary class")
        if any(isinstance(v, bool) or int(v) != v for v in values):
            raise MaxlError(f"ψ must hold whole numbers, got {values}; e.g. --psi 5,5,5")
        if any(v < 1 for v in values):
            raise MaxlError(
                f"ψ must be positive, got {values}; every primary class needs at least one "
                "auxiliary class"
            )
        self._psi = tuple(int(v) for v in values)
        starts = [0]
        for size in self._psi:
            starts.append(starts[-1] + size)
        self._starts = tuple(starts)
        self._owner = torch.repeat_interleave(torch.arange(len(self._psi)), torch.tensor(self._psi))

    @classmethod
    def uniform(cls, num_primary: int, per_class: int) -> Hierarchy:
        """ψ = [per_class] * num_primary."""
        return cls([per_class] * num_primary)

    @property
    def psi(self) -> list[int]:
        """ψ[i]: the number of auxiliary classes of primary class i (a copy)."""
        return list(self._psi)

    @property
    def num_primary(self) -> int:
        return len(self._psi)

    @property
    def num_aux(self) -> int:
        return self._starts[-1]

    def block(self, i: int) -> range:
        """The auxiliary classes owned by primary class i."""
        if not 0 <= i < self.num_primary:
            raise MaxlError(f"primary class {i} is outside 0..{self.num_primary - 1}")
        return range(self._starts[i], self._starts[i + 1])

    def owner(self) -> torch.Tensor:
        """For each auxiliary class, the primary class that owns it (int64 [K])."""
        return self._owner.clone()

    def mask(self, y: torch.Tensor) -> torch.Tensor:
        """Boolean [N, K]: True where the auxiliary class lies in the block of y[n]."""
        self.check_labels(y)
        owner = self._owner.to(y.device)
        return owner.unsqueeze(0) == y.unsqueeze(1)

    def check_labels(self, y: torch.Tensor) -> None:
        """Raise a clear error for labels that are not integer class indices of this hierarchy."""
        if y.dtype.is_floating_point or y.dtype == torch.bool or y.dtype.is_complex:
            raise MaxlError(f"primary labels must be an integer tensor, got {y.dtype}")
        if y.dim() != 1:
            raise MaxlError(f"primary labels must be 1-D [N], got shape {tuple(y.shape)}")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.num_primary):
            raise MaxlError(
                f"primary labels range over {int(y.min())}..{int(y.max())} but ψ has "
                f"{self.num_primary} classes; give ψ one entry per primary class"
            )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hierarchy) and other._psi == self._psi

    def __hash__(self) -> int:
        return hash(self._psi)

    def __repr__(self) -> str:
        return f"Hierarchy({self.psi})"


def hierarchy_from_labels(
    primary: torch.Tensor, fine: torch.Tensor
) -> tuple[Hierarchy, torch.Tensor]:
    """Derive ψ from paired primary/fine labels; return it and the fine → auxiliary-index map.

    Every fine class must sit under exactly one primary class. Fine classes are laid out block by
    block (primary class order, then fine index order), so `fine_to_aux[fine_label]` gives the
    auxiliary class in ψ's layout.
    """
    if primary.shape != fine.shape:
        raise MaxlError("primary and fine labels must have the same length")
    num_fine = int(fine.max()) + 1
    pairs = torch.unique(torch.stack([fine, primary], dim=1), dim=0)
    parents = torch.full((num_fine,), -1, dtype=torch.long)
    for fine_class, parent in pairs.tolist():
        if parents[fine_class] not in (-1, parent):
            raise MaxlError(
                f"fine class {fine_class} appears under primary classes {int(parents[fine_class])} "
                f"and {parent}; finer labels must nest inside the primary ones"
            )
        parents[fine_class] = parent
    used = parents >= 0
    num_primary = int(primary.max()) + 1
    psi = [int(((parents == i) & used).sum()) for i in range(num_primary)]
    if any(size == 0 for size in psi):
        missing = [i for i, size in enumerate(psi) if size == 0]
        raise MaxlError(f"primary classes {missing} have no fine labels; every class needs one")
    order = sorted(range(num_fine), key=lambda f: (int(parents[f]), f))
    fine_to_aux = torch.full((num_fine,), -1, dtype=torch.long)
    fine_to_aux[torch.tensor([f for f in order if used[f]])] = torch.arange(int(used.sum()))
    return Hierarchy(psi), fine_to_aux


def mask_softmax(logits: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax over the entries where mask is true; exactly 0 elsewhere; each row sums to 1.

    Masked logits are replaced by -inf before the softmax, so it is stable at any scale.
    """
    if mask.dtype != torch.bool:
        mask = mask != 0
    if not bool(mask.any(dim=dim).all()):
        raise MaxlError("mask_softmax needs at least one unmasked entry in every row")
    return torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=dim)
