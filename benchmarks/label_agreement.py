"""Do two MAXL variants learn the same labels? For each seed, the final most likely auxiliary
class of every training image in a reference run and in another run from the same untrained
generator (e.g. full depth against --meta-depth 1):

    python benchmarks/label_agreement.py runs/fair/gen-lr-0.1 runs/fair/gen-lr-0.1-depth1

Prints per seed: the share of images that left their untrained class in each run, the share
with the same final class in both, and, among the images the reference moved, the share the
other run moved to the same class (what an approximate meta-gradient keeps of the exact one's
labels). Both folders hold maxl-seedS runs of the same seeds (each run's untrained generator is
rebuilt from its seed).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
from pathlib import Path

import torch

from maxl.analysis.agreement import label_agreement
from maxl.analysis.untrained import final_classes, untrained_labels
from maxl.assembly.rebuild import rebuilt_run
from maxl.run_folder import run_folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path, help="a variant's folder of maxl-seedS runs")
    parser.add_argument("other", type=Path, help="another variant's folder, the same seeds")
    args = parser.parse_args()
    names = [p.name for p in run_folders(args.reference) if p.name.startswith("maxl-seed")]
    rows = {}
    for name in sorted(names, key=lambda n: int(n.removeprefix("maxl-seed"))):
        initial, finals = [], []
        for folder in (args.reference / name, args.other / name):
            run = rebuilt_run(folder)
            initial.append(untrained_labels(run).argmax(1))
            finals.append(final_classes(folder, run.task.train_indices))
        if not torch.equal(*initial):
            raise SystemExit(f"{name}: the two runs start from different untrained labels")
        rows[name] = dataclasses.asdict(label_agreement(initial[0], *finals))
    keys = ("moved", "other_moved", "same_final", "same_where_moved")
    print(
        f"| run | moved in {args.reference.name} | moved in {args.other.name} | same final "
        f"class | same class where {args.reference.name} moved |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{100 * row[k]:.1f} %" for k in keys) + " |")
    means = [statistics.fmean(row[k] for row in rows.values()) for k in keys]
    print("| mean | " + " | ".join(f"{100 * m:.1f} %" for m in means) + " |")


if __name__ == "__main__":
    main()
