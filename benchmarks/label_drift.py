"""How far a finished MAXL run's labels moved from its untrained generator's: the generator is
rebuilt from the run's seed exactly as training built it, and its labels of every training
image are set against the run's aux_labels.npz.

    python benchmarks/label_drift.py runs/sweep-psi/psi-5/maxl-seed0 [more run folders]

Prints per run: the share of training images whose most likely auxiliary class is the same
at the start and at the end, the NMI between the two labellings inside each primary class
(weighted by class size; both nest in the primary classes), and the mean per-image label
entropy (nats) on the run's analysis sample at the start and at the end (the last epoch's
aux_entropy).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from pathlib import Path

import numpy as np
import torch

from maxl.analysis.metrics import mean_label_entropy, nmi_within_groups
from maxl.analysis.probe import analysis_rows, label_distributions
from maxl.assembly import assemble_run
from maxl.assembly.datasets import load_dataset
from maxl.config import TrainConfig, convert_value
from maxl.data.batches import to_float
from maxl.engine import AssembledRun


def rebuilt_run(run_dir: Path) -> AssembledRun:
    """A finished run's networks and data as its seed built them (untrained), on the CPU."""
    results = json.loads((run_dir / "results.json").read_text())
    hints = typing.get_type_hints(TrainConfig)
    saved = results["config"]
    values = {k: convert_value(v, hints[k], "results.json", k) for k, v in saved.items()}
    config = dataclasses.replace(TrainConfig(**values), device="cpu")
    dataset = load_dataset(config.dataset, config.data_dir, image_size=config.image_size)
    return assemble_run(config, dataset, torch.device("cpu"))


def untrained_labels(run_dir: Path) -> tuple[TrainConfig, torch.Tensor, torch.Tensor]:
    """The run's config, its initial generator's label distributions of every training image
    [N, K], and the final most likely classes from aux_labels.npz."""
    run = rebuilt_run(run_dir)
    config = run.config
    calibrate_batch_norm(run)
    start = label_distributions(run, torch.arange(len(run.x_train)))
    final = np.load(run_dir / "aux_labels.npz")
    if not np.array_equal(final["rows"], run.task.train_indices.numpy()):
        raise SystemExit(f"{run_dir}: aux_labels.npz holds other training rows than the config")
    return config, start, torch.from_numpy(final["aux"])


@torch.no_grad()
def calibrate_batch_norm(run: AssembledRun) -> None:
    """Give the untrained generator's BatchNorm layers the running statistics of the training
    images (a cumulative average over one pass), so its eval-mode labels are those its
    weights give, not those of the default statistics (mean 0, variance 1)."""
    generator = run.method.generator
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    generator.train()
    for rows in torch.arange(len(run.x_train)).split(run.config.batch_size):
        generator(to_float(run.x_train[rows], run.mean, run.std), run.y_train[rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="folders of finished maxl runs")
    args = parser.parse_args()
    print(
        "| run | same class at start and end | NMI start/end within primary classes | "
        "entropy start | entropy end |"
    )
    print("|---|---:|---:|---:|---:|")
    for run_dir in args.runs:
        config, start, final_aux = untrained_labels(run_dir)
        start_aux = start.argmax(1)
        sample = analysis_rows(len(start), config.analysis_size, config.seed)
        same = float((start_aux == final_aux).double().mean())
        primary = torch.from_numpy(np.load(run_dir / "aux_labels.npz")["primary"])
        nmi = nmi_within_groups(start_aux, final_aux, primary)
        metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
        end_entropy = metrics[-1].get("aux_entropy", float("nan"))
        print(
            f"| {run_dir} | {100 * same:.1f} % | {'—' if nmi is None else f'{nmi:.3f}'} | "
            f"{mean_label_entropy(start[sample]):.3f} | {end_entropy:.3f} |"
        )


if __name__ == "__main__":
    main()
