"""The two parts of the generator's gradient during a MAXL run, side by side: the meta-gradient
(of the primary loss after one inner step; entropy weight 0) and the entropy regulariser's
λ∇H, each from the public `generator_hypergradient`.

    python benchmarks/gradient_balance.py --config configs/fashion-mnist.yaml --psi 5 --epochs 3

Trains like `maxl train` (the config file's settings, then the options given here), and before
the first epoch and after each one evaluates both parts on the first few training batches
(un-augmented): their norms, the ratio, and the cosine between them.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
from pathlib import Path

import torch

from maxl.analysis.metrics import gradient_cosine
from maxl.assembly import build_run
from maxl.config import TrainConfig
from maxl.config_file import load_experiment
from maxl.data.batches import to_float
from maxl.engine import AssembledRun, train_epoch
from maxl.hypergrad import generator_hypergradient


def norm(grads: list[torch.Tensor]) -> float:
    return float(torch.cat([g.reshape(-1) for g in grads]).norm())


def balance(run: AssembledRun, batches: int) -> tuple[float, float, float]:
    """Median over `batches` batches of |meta-gradient|, |λ∇H| and their cosine."""
    config, generator = run.config, run.method.generator  # type: ignore[attr-defined]
    lr = run.optimizer.param_groups[0]["lr"]
    rows = torch.arange(len(run.x_train)).split(config.batch_size)[:batches]
    metas, entropies, cosines = [], [], []
    for part in rows:
        x, y = to_float(run.x_train[part], run.mean, run.std), run.y_train[part]
        common = {"inner_lr": lr, "aux_weight": config.aux_weight}
        common["focal_gamma"] = config.focal_gamma
        meta = generator_hypergradient(run.net, generator, x, y, entropy_weight=0.0, **common)
        full = generator_hypergradient(
            run.net, generator, x, y, entropy_weight=config.entropy_weight, **common
        )
        entropy = [f - m for f, m in zip(full, meta, strict=True)]
        metas.append(norm(meta))
        entropies.append(norm(entropy))
        cosines.append(gradient_cosine(meta, entropy))
    return statistics.median(metas), statistics.median(entropies), statistics.median(cosines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--psi", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batches", type=int, default=5)
    args = parser.parse_args()
    settings = load_experiment(args.config)
    settings.pop("methods", None)
    settings.pop("seeds", None)
    config = TrainConfig(**settings)
    changes = {"method": "maxl", "epochs": args.epochs, "seed": args.seed, "progress": False}
    if args.psi is not None:
        changes["psi"] = (args.psi,)
    config = dataclasses.replace(config, **changes)
    run = build_run(config)
    print(f"ψ = {run.hierarchy.psi}, λ = {config.entropy_weight}, generator lr {config.gen_lr}")
    print("| after epoch | meta-gradient norm | λ∇H norm | ratio λ∇H / meta | cosine |")
    print("|---:|---:|---:|---:|---:|")
    for epoch in range(config.epochs + 1):
        if epoch:
            train_epoch(run, epoch)
            run.scheduler.step()
            run.method.end_epoch()
        meta, entropy, cosine = balance(run, args.batches)
        print(f"| {epoch} | {meta:.2e} | {entropy:.2e} | {entropy / meta:.1f} | {cosine:+.2f} |")


if __name__ == "__main__":
    main()
