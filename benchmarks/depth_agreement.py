"""How much of the exact meta-gradient --meta-depth K keeps: the cosine between the generator's
meta-gradient through the top K blocks and through all blocks, on training batches, for the
untrained networks of a finished run's seed and for its networks after the last epoch.

    python benchmarks/depth_agreement.py runs/fair/base/maxl-seed0 [more run folders]

The entropy term is left out (entropy weight 0): it is the same at every depth and its gradient
is several times the meta-gradient's (docs/analysis.md), so with it the cosine would say little.
Prints per run and depth the mean cosine and the mean norm ratio (depth K / all) over the
batches; α is the multi-task learning rate in force (the run's --lr for the untrained networks,
the checkpoint's scheduled learning rate after the last epoch).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

import maxl
from maxl.checkpoint import checkpoint_path, restore_run
from maxl.engine import AssembledRun
from maxl.models.blocks import block_count
from maxl.step import prepare_batch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from label_drift import rebuilt_run  # a sibling script


def flat(grads: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in grads])


def agreement(run: AssembledRun, batches: int) -> dict[int, tuple[float, float]]:
    """Depth K -> (mean cosine, mean norm ratio) against all blocks, over `batches` batches."""
    count = block_count(run.net.backbone)
    assert count is not None, "the backbone declares no blocks"
    rng = torch.Generator().manual_seed(run.config.seed)
    lr = run.optimizer.param_groups[0]["lr"]
    order = torch.randperm(len(run.x_train), generator=rng)
    found: dict[int, list[tuple[float, float]]] = {k: [] for k in range(1, count)}
    for rows in order.split(run.config.batch_size)[:batches]:
        x = prepare_batch(
            run.x_train[rows], run.mean, run.std, pad=run.crop_pad, flip=run.flip, rng=rng
        )
        y = run.y_train[rows]
        settings = {
            "inner_lr": lr,
            "entropy_weight": 0.0,
            "aux_weight": run.config.aux_weight,
            "focal_gamma": run.config.focal_gamma,
        }
        generator = run.method.generator
        full = flat(maxl.generator_hypergradient(run.net, generator, x, y, **settings))
        for depth in found:
            part = flat(
                maxl.generator_hypergradient(run.net, generator, x, y, meta_depth=depth, **settings)
            )
            cosine = float(torch.nn.functional.cosine_similarity(part, full, dim=0))
            found[depth].append((cosine, float(part.norm() / full.norm())))
    return {
        depth: (statistics.fmean(c for c, _ in values), statistics.fmean(r for _, r in values))
        for depth, values in found.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="folders of finished maxl runs")
    parser.add_argument("--batches", type=int, default=5, help="training batches per network")
    args = parser.parse_args()
    print("| run | networks | depth | cosine with all blocks | norm / all blocks' |")
    print("|---|---|---:|---:|---:|")
    for run_dir in args.runs:
        run = rebuilt_run(run_dir)
        for when in ("untrained", "after the last epoch"):
            if when != "untrained":
                saved = torch.load(checkpoint_path(run_dir), map_location="cpu", weights_only=True)
                restore_run(run, saved, checkpoint_path(run_dir))
            for depth, (cosine, ratio) in agreement(run, args.batches).items():
                print(f"| {run_dir} | {when} | {depth} | {cosine:.3f} | {ratio:.3f} |")


if __name__ == "__main__":
    main()
