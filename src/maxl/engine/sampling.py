"""Batch sampling: which global batches of training rows each pass of an epoch draws (and how far
through them it is, for a checkpoint), the meta batches of L_meta (--meta-data), each rank's
share of a batch, and reading and augmenting it. Kept apart from the loop, so that what a run
draws, and so its random streams, has one home."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from maxl.data.batches import batch_indices
from maxl.data.streamed import read_batches
from maxl.engine.assembled_run import AssembledRun
from maxl.step import prepare_batch


@dataclass
class Pass:
    """How far one pass of an epoch has come: its global batches of training rows in order, how
    many are done, and the sums of their [total, primary, auxiliary] losses."""

    batches: list[torch.Tensor]
    done: int
    totals: torch.Tensor

    def state_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "done": self.done, "totals": self.totals}

    @classmethod
    def begin(cls, batches: list[torch.Tensor]) -> Pass:
        return cls(batches, 0, torch.zeros(3, dtype=torch.float64))

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], device: torch.device) -> Pass:
        return cls(
            batches=[rows.to(device) for rows in state["batches"]],
            done=int(state["done"]),
            totals=state["totals"].to(device),
        )


@dataclass
class EpochProgress:
    """How far an epoch has come: its multi-task pass and, for a method with a separate pass
    (`--schedule epochs`), the generator pass, begun once the multi-task pass is done."""

    train: Pass
    meta: Pass | None = None

    def describe(self) -> str:
        """Where the epoch stands, for messages: 'after step 12' or '... of the generator pass'."""
        if self.meta is None:
            return f"after step {self.train.done}"
        return f"after step {self.meta.done} of the generator pass"

    def state_dict(self) -> dict[str, Any]:
        return {
            "train": self.train.state_dict(),
            "meta": None if self.meta is None else self.meta.state_dict(),
        }

    @classmethod
    def begin(cls, run: AssembledRun) -> EpochProgress:
        """A new epoch: fresh shuffled batches, nothing done yet."""
        return cls(Pass.begin(epoch_batches(run)))

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], device: torch.device) -> EpochProgress:
        meta = state.get("meta")
        return cls(
            train=Pass.from_state_dict(state["train"], device),
            meta=None if meta is None else Pass.from_state_dict(meta, device),
        )


def epoch_batches(run: AssembledRun) -> list[torch.Tensor]:
    """A new pass's global batches of training rows (without the meta hold-out), shuffled by
    the run's generator. In a data-parallel run each is cut to a multiple of the world size
    (the last, short batch may lose up to world_size - 1 rows) and dropped below two rows per
    rank."""
    n, size = len(run.x_train), run.config.batch_size
    if run.train_rows is not None:
        n = len(run.train_rows)
    batches = batch_indices(n, size, shuffle=True, generator=run.rng, drop_last=n % size == 1)
    if run.train_rows is not None:
        batches = [run.train_rows[rows] for rows in batches]
    return fit_to_ranks(run, batches)


def fit_to_ranks(run: AssembledRun, batches: list[torch.Tensor]) -> list[torch.Tensor]:
    """Batches cut to a multiple of the world size, none below two rows per rank."""
    if run.ranks is None:
        return batches
    world = run.ranks.world_size
    cut = [rows[: len(rows) - len(rows) % world] for rows in batches]
    return [rows for rows in cut if len(rows) >= 2 * world]


def meta_rows(
    run: AssembledRun, batches: list[torch.Tensor], index: int, key: int
) -> torch.Tensor | None:
    """The training rows of L_meta for step `index` of a pass (--meta-data): None for the
    step's own batch (same), the pass's next batch (next, cyclic), or a batch of the hold-out
    (holdout:F), cycled through an order drawn from (seed, key) alone, so a resumed run draws
    the same."""
    if not run.method.meta_learned or run.meta_kind == "same":
        return None
    if run.meta_kind == "next":
        return batches[(index + 1) % len(batches)]
    assert run.holdout_rows is not None
    held = len(run.holdout_rows)
    size = min(run.config.batch_size, held)
    order = holdout_order(held, seed_for(run, key))
    positions = (index * size + torch.arange(size)) % held
    rows = run.holdout_rows[order[positions].to(run.holdout_rows.device)]
    return fit_to_ranks(run, [rows])[0]


@functools.lru_cache(maxsize=2)  # a pass asks for the same order at every step
def holdout_order(held: int, seed: int) -> torch.Tensor:
    """The order in which a pass cycles through the hold-out rows, from its seed alone."""
    return torch.randperm(held, generator=torch.Generator().manual_seed(seed))


def seed_for(run: AssembledRun, key: int) -> int:
    """A seed of its own for each (run seed, key), e.g. the meta batches of one pass."""
    return (run.config.seed * 1_000_003 + key * 7_919) % (2**63)


def shard_of(run: AssembledRun, size: int) -> slice:
    """This rank's share of a global batch of `size` (all of it in one process)."""
    return slice(None) if run.ranks is None else run.ranks.shard(size)


def pass_inputs(
    run: AssembledRun, batches: list[torch.Tensor], salt: int
) -> Iterator[torch.Tensor]:
    """This rank's inputs of each global batch in order (a stream reads them ahead; `salt`
    seeds its random transforms for this pass)."""
    shares = [rows[shard_of(run, len(rows))] for rows in batches]
    return read_batches(run.x_train, shares, salt)


def training_batch(
    run: AssembledRun, rows: torch.Tensor, rng: torch.Generator, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augmented inputs, labels and rows of this rank's share of a global batch of `rows`,
    given its inputs `x`; the augmentation is drawn for the whole global batch, so every rank
    draws the same numbers and a share is augmented as in one process."""
    part = shard_of(run, len(rows))
    x = prepare_batch(
        x,
        run.mean,
        run.std,
        pad=run.crop_pad,
        flip=run.flip,
        rng=rng,
        batch_size=len(rows),
        part=part,
    )
    return x, run.y_train[rows[part]], rows[part]


def meta_batch(
    run: AssembledRun, batches: list[torch.Tensor], index: int, key: int
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The batch (x', y') of L_meta for step `index` (None: the step's own), augmented with a
    generator of its own, so the run's random stream is that of --meta-data same."""
    rows = meta_rows(run, batches, index, key)
    if rows is None:
        return None
    rng = torch.Generator(device=run.y_train.device).manual_seed(seed_for(run, key) + index + 1)
    x = next(pass_inputs(run, [rows], salt=-(key * 100_003 + index + 1)))
    x, y, _ = training_batch(run, rows, rng, x)
    return x, y
