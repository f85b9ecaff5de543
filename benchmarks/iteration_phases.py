"""Where the time of one MAXL iteration goes: each phase timed on its own, as a multiple of the
single-task step (the multi-task step of the same iteration), medians over the iterations.

    python benchmarks/iteration_phases.py --backbone vgg16 --image-size 32 --channels 3
    python benchmarks/iteration_phases.py --variants exact-depth1-light ...   # any fused row

Phases: generator forward (the targets, kept with their graph), multi-task step (forward and
backward), features below the top blocks (--meta-depth only: one forward of the lower blocks,
no graph), direction d = ∇_{θ⁺}L_pri(θ⁺) (forward and backward at θ⁺), label sensitivity
(exact: one forward-mode JVP at θ; finite-difference: two forwards at θ ± εd), generator
backward (one backward through the generator to φ), both optimiser steps.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch
from hypergrad_pieces import shape_parser  # this folder is on sys.path when run

from maxl.assembly import assemble_run
from maxl.bench import BenchConfig, describe, random_dataset, train_config
from maxl.hypergrad import hypergradient_of
from maxl.hypergrad.common import batch_statistics, zeros_for_unused
from maxl.losses import entropy_regulariser, focal_loss
from maxl.step import prepare_batch


class Phases:
    """Wall time per named phase, recorded once warm-up is over."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.recording = False

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        if self.recording:
            self.times.setdefault(name, []).append(time.perf_counter() - start)


def profile(bench: BenchConfig, variant: str, iterations: int) -> dict[str, float]:
    """Median seconds of each phase of a fused `maxl bench` row's iteration (exact,
    finite-difference, exact-depth1, exact-light, exact-depth1-light)."""
    config = train_config(bench, variant)
    if config.method != "maxl" or config.schedule != "batches" or config.hypergrad == "implicit":
        raise SystemExit(f"{variant}: profile a fused exact or finite-difference row of maxl bench")
    run = assemble_run(config, random_dataset(bench), torch.device("cpu"))
    net, labeler = run.net, run.method.labeler
    generator = labeler.generator
    sensitivity = hypergradient_of(config.hypergrad).sensitivity
    rows = torch.arange(bench.batch_size)
    phases = Phases()
    for i in range(iterations + 1):
        phases.recording = i > 0
        x = prepare_batch(
            run.x_train[rows], run.mean, run.std, pad=run.crop_pad, flip=run.flip, rng=run.rng
        )
        y = run.y_train[rows]
        with phases.phase("generator forward"):
            labels = generator(x, y)
        with phases.phase("multi-task step"):
            primary, aux = net(x)
            loss = focal_loss(primary, y) + focal_loss(aux, labels.detach())
            net.zero_grad()
            loss.backward()
        below = (
            phases.phase("features below the top blocks") if config.meta_depth else nullcontext()
        )
        with batch_statistics(net):
            with below:
                problem = labeler.problem(net, x, y, 0.01, None)
            theta = problem.trainable_net_params()
            theta_plus = {n: p.detach() - 0.01 * p.grad for n, p in theta.items()}
            with phases.phase("direction d"):
                d = problem.meta_direction(theta_plus)
            with phases.phase("label sensitivity"):
                s = sensitivity(problem, theta, d)
        with phases.phase("generator backward"):
            meta = -0.01 * (labels * s).sum() + 0.2 * entropy_regulariser(labels)
            grads = zeros_for_unused(meta, problem.generator_params())
        with phases.phase("both optimiser steps"):
            labeler.apply(grads)
            run.optimizer.step()
    return {name: statistics.median(values) for name, values in phases.times.items()}


def main() -> None:
    parser = shape_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--variants",
        default="exact,finite-difference",
        help="comma-separated fused rows of maxl bench (default: %(default)s)",
    )
    args = parser.parse_args()
    bench = BenchConfig(
        backbone=args.backbone,
        batch_size=args.batch_size,
        image_size=args.image_size,
        channels=args.channels,
        device="cpu",
    )
    for variant in args.variants.split(","):
        medians = profile(bench, variant, args.iterations)
        base = medians["multi-task step"]
        print(f"\n{describe(bench, variant)}: {args.backbone}, batch {args.batch_size}, "
              f"median of {args.iterations}")  # fmt: skip
        for name, median in [*medians.items(), ("sum", sum(medians.values()))]:
            print(f"  {name:<30} {median:8.4f} s  {median / base:5.2f}x step")


if __name__ == "__main__":
    main()
