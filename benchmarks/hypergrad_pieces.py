"""What each piece of the MAXL iteration costs, through the public API only, so the same script
also runs against older versions of maxl (PYTHONPATH=OLD_CHECKOUT/src python this_file.py).

Times, interleaved and as medians, on one random batch:
  single      the multi-task step alone (forward, backward, SGD step)
  unfused     the step plus what a MAXL iteration adds when nothing is shared: a generator forward
              for the targets, then generator_hypergradient() from scratch and a generator step
and prints each as a multiple of single. `maxl bench` times the shared (fused) iteration.

    python benchmarks/hypergrad_pieces.py --backbone vgg16 --image-size 32 --channels 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from maxl import Hierarchy, focal_loss, generator_hypergradient
from maxl.assembly.backbones import build_backbone
from maxl.models import LabelGenerator, MultiTaskNet


def shape_parser(description: str) -> argparse.ArgumentParser:
    """The command line: backbone, batch and image shape, rounds."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--backbone", default="small-cnn")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=5)
    return parser


def main() -> None:
    args = shape_parser(__doc__.splitlines()[0]).parse_args()
    torch.manual_seed(0)
    h = Hierarchy([5] * 20)
    n, c, s = args.batch_size, args.channels, args.image_size
    x, y = torch.randn(n, c, s, s), torch.randint(0, 20, (n,))

    def network(head_sizes: tuple[int, int] | None) -> torch.nn.Module:
        backbone = build_backbone(args.backbone, c)
        if head_sizes is None:
            return LabelGenerator(backbone, backbone.feature_dim, h)
        return MultiTaskNet(backbone, backbone.feature_dim, *head_sizes)

    net = network((20, 100))
    generator = network(None)
    net_opt = torch.optim.SGD(net.parameters(), lr=0.01)
    gen_opt = torch.optim.SGD(generator.parameters(), lr=1e-3, weight_decay=5e-4)

    def multitask_step(targets: torch.Tensor | None) -> None:
        primary, aux = net(x)
        loss = focal_loss(primary, y)
        if targets is not None:
            loss = loss + focal_loss(aux, targets)
        net_opt.zero_grad()
        loss.backward()
        net_opt.step()

    def single() -> None:
        multitask_step(None)

    def unfused(method: str) -> None:
        with torch.no_grad():
            targets = generator(x, y)
        multitask_step(targets)
        grads = generator_hypergradient(net, generator, x, y, inner_lr=0.01, method=method)
        for p, g in zip(generator.parameters(), grads, strict=True):
            p.grad = g
        gen_opt.step()

    variants = {
        "single": single,
        "unfused exact": lambda: unfused("exact"),
        "unfused finite-difference": lambda: unfused("finite-difference"),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(args.iterations + 1):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            if round_:
                times[name].append(time.perf_counter() - start)
    base = statistics.median(times["single"])
    print(f"{args.backbone}, batch {n}, {c}x{s}x{s}, median of {args.iterations} after 1 warm-up")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<26} {median:8.4f} s  {median / base:5.2f}x single")


if __name__ == "__main__":
    main()
