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
from pathlib import Path

from maxl.analysis.batches import shuffled_batches
from maxl.analysis.depth import depth_agreement
from maxl.assembly.rebuild import rebuilt_run, restore_last_epoch


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
                restore_last_epoch(run, run_dir)
            found = depth_agreement(
                run.net,
                run.method.generator,  # type: ignore[attr-defined]
                shuffled_batches(run, args.batches, crop_pad=run.crop_pad, flip=run.flip),
                inner_lr=run.optimizer.param_groups[0]["lr"],
                aux_weight=run.config.aux_weight,
                focal_gamma=run.config.focal_gamma,
            )
            for depth, agreement in found.items():
                print(
                    f"| {run_dir} | {when} | {depth} | {agreement.cosine:.3f} | "
                    f"{agreement.norm_ratio:.3f} |"
                )


if __name__ == "__main__":
    main()
