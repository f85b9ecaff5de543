"""Did a finished tuning choose well? For each tuning folder, every grid point's mean
validation accuracy, validation loss and the test accuracy of the same tuning runs, then the
point each criterion picks. Read after the choice, as a diagnosis of the protocol: the test
set must never choose.

    python benchmarks/tuning_diagnosis.py runs/map-pairs/size-250/tune [more tuning folders]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from maxl.analysis.tuning_check import check_tuning, point_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="tuning folders (OUT/tune...)")
    parser.add_argument("--top", type=int, default=6, help="points shown per folder")
    args = parser.parse_args()
    for folder in args.folders:
        points = point_scores(folder)
        print(f"\n{folder}: {len(points)} points")
        print("| point | validation % | validation loss | test % (diagnosis only) | runs |")
        print("|---|---:|---:|---:|---:|")
        for p in sorted(points, key=lambda p: -p.val_accuracy)[: args.top]:
            print(f"| {p.label} | {100 * p.val_accuracy:.2f} | {p.val_loss:.4f} | "
                  f"{100 * p.test_accuracy:.2f} | {p.runs} |")  # fmt: skip
        check = check_tuning(points)
        for name, chosen in (
            ("validation accuracy", check.by_accuracy),
            ("validation loss", check.by_loss),
            ("test accuracy", check.best_on_test),
        ):
            print(f"best by {name}: {chosen.label} (test {100 * chosen.test_accuracy:.2f} %)")


if __name__ == "__main__":
    main()
