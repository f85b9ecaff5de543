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
from pathlib import Path

from maxl.analysis.balance import gradient_balance
from maxl.analysis.batches import first_batches
from maxl.assembly import build_run
from maxl.config import TrainConfig
from maxl.config_file import load_experiment
from maxl.engine import train_epoch


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
        found = gradient_balance(
            run.net,
            run.method.generator,  # type: ignore[attr-defined]
            first_batches(run, args.batches),
            inner_lr=run.optimizer.param_groups[0]["lr"],
            entropy_weight=config.entropy_weight,
            aux_weight=config.aux_weight,
            focal_gamma=config.focal_gamma,
        )
        meta, entropy = found.meta_norm, found.entropy_norm
        print(
            f"| {epoch} | {meta:.2e} | {entropy:.2e} | {entropy / meta:.1f} | {found.cosine:+.2f} |"
        )


if __name__ == "__main__":
    main()
