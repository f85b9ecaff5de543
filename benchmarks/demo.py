"""The quick-start demo: single-task, human and MAXL auxiliary labels on a Fashion-MNIST subset.

Primary task: Clothes vs Goods (level 2); human auxiliary labels: the 10 Fashion-MNIST classes.
Same seed, subset, initialisation and schedule for every method. Run by `make demo`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from maxl.config import TrainConfig
from maxl.engine import train
from maxl.errors import MaxlError


def main(out: Path = Path("runs/demo")) -> int:
    accuracies = {}
    for method in ("single", "human", "maxl"):
        config = TrainConfig(
            dataset="fashion-mnist",
            primary_level="2",
            method=method,
            train_size=3000,
            epochs=5,
            lr_step=2,
            out=out / method,
            progress=False,
        )
        try:
            accuracies[method] = train(config, log=print)["test_accuracy"]
        except MaxlError as error:
            print(f"maxl: error: {error}", file=sys.stderr)
            return 2
    print("\nmethod   test accuracy (Clothes vs Goods, 3000 training images, 5 epochs, seed 0)")
    for method, accuracy in accuracies.items():
        print(f"{method:<8} {100 * accuracy:6.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
