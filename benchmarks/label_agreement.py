"""Do two MAXL variants learn the same labels? For each seed, the final most likely auxiliary
class of every training image in a reference run and in another run from the same untrained
generator (e.g. full depth against --meta-depth 1):

    python benchmarks/label_agreement.py runs/fair/gen-lr-0.1 runs/fair/gen-lr-0.1-depth1

Prints per seed: the share of images that left their untrained class in each run, the share
with the same final class in both, and, among the images the reference moved, the share the
other run moved to the same class (what an approximate meta-gradient keeps of the exact one's
labels). Both folders hold maxl-seedS runs of the same seeds (label_drift.py rebuilds the
untrained generator of each).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from label_drift import untrained_labels  # a sibling script


def agreement(reference: Path, other: Path) -> dict[str, float]:
    """Shares (0..1) of moved, equal and equally moved images between two runs of one seed."""
    _, start, final = untrained_labels(reference)
    _, other_start, other_final = untrained_labels(other)
    if not torch.equal(start.argmax(1), other_start.argmax(1)):
        raise SystemExit(f"{reference} and {other} start from different untrained labels")
    initial = start.argmax(1)
    moved = final != initial
    return {
        "moved": float(moved.double().mean()),
        "other_moved": float((other_final != initial).double().mean()),
        "same_final": float((final == other_final).double().mean()),
        "same_where_moved": float((final == other_final)[moved].double().mean())
        if moved.any()
        else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path, help="a variant's folder of maxl-seedS runs")
    parser.add_argument("other", type=Path, help="another variant's folder, the same seeds")
    args = parser.parse_args()
    runs = sorted(args.reference.glob("maxl-seed*"), key=lambda p: int(p.name[9:]))
    rows = {run.name: agreement(run, args.other / run.name) for run in runs}
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
