"""What streaming costs: seconds per epoch of one training run with its inputs in memory against
the same run streamed from a Dataset (maxl.fit(..., stream=True)) with 0, 1 and 2 workers, in
one process, measured in one run so that the ratios compare like with like.

    python benchmarks/streaming.py [--images 4000] [--epochs 3] [--method single]

The Dataset holds Fashion-MNIST-sized uint8 images (1×28×28, random) in memory and returns
one per __getitem__, so the ratio is the cost of the reading machinery itself (a Dataset that
decodes files adds its own cost, which workers overlap with training).
"""

from __future__ import annotations

import argparse
import tempfile

import torch

import maxl
from maxl.assembly.backbones import build_backbone


class InMemoryItems(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], int(self.y[i])


def seconds_per_epoch(train, test, method: str, epochs: int, **stream) -> float:
    with tempfile.TemporaryDirectory() as out:
        result = maxl.fit(
            lambda: build_backbone("small-cnn", 1),
            train,
            test,
            method=method,
            epochs=epochs,
            batch_size=100,
            psi=2,
            analysis_size=0,
            progress=False,
            out=out,
            **stream,
        )
    return result.results["wall_time_s"] / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--method", default="single")
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (args.images + 1000, 1, 28, 28), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (args.images + 1000,), generator=g)
    train = InMemoryItems(x[: args.images], y[: args.images])
    test = InMemoryItems(x[args.images :], y[args.images :])
    memory = seconds_per_epoch(train, test, args.method, args.epochs, stream=False)
    print(f"{args.method}, {args.images} images, torch threads {torch.get_num_threads()}")
    print("| inputs | s / epoch | ratio to in memory |")
    print("|---|---:|---:|")
    print(f"| in memory | {memory:.2f} | 1.00 |")
    for workers in (0, 1, 2):
        seconds = seconds_per_epoch(
            train, test, args.method, args.epochs, stream=True, workers=workers
        )
        print(f"| streamed, {workers} workers | {seconds:.2f} | {seconds / memory:.2f} |")


if __name__ == "__main__":
    main()
