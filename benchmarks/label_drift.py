"""How far a finished MAXL run's labels moved from its untrained generator's: the generator is
rebuilt from the run's seed exactly as training built it, and its labels of every training
image are set against the run's saved label table.

    python benchmarks/label_drift.py runs/sweep-psi/psi-5/maxl-seed0 [more run folders]

Prints per run: the share of training images whose most likely auxiliary class is the same
at the start and at the end, the NMI between the two labellings inside each primary class
(weighted by class size; both nest in the primary classes), and the mean per-image label
entropy (nats) on the run's analysis sample at the start and at the end (the last epoch's
aux_entropy).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from maxl.analysis.drift import label_drift
from maxl.analysis.probe import analysis_rows
from maxl.analysis.untrained import final_classes, untrained_labels
from maxl.assembly.rebuild import rebuilt_run
from maxl.run_folder import read_aux_labels, read_metrics


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
        run = rebuilt_run(run_dir)
        start = untrained_labels(run)
        final = final_classes(run_dir, run.task.train_indices)
        sample = analysis_rows(len(start), run.config.analysis_size, run.config.seed)
        primary = torch.from_numpy(read_aux_labels(run_dir).primary)
        drift = label_drift(start, final, primary, sample)
        end_entropy = read_metrics(run_dir)[-1].get("aux_entropy", float("nan"))
        nmi = "—" if drift.nmi_within is None else f"{drift.nmi_within:.3f}"
        print(
            f"| {run_dir} | {100 * drift.same_class:.1f} % | {nmi} | "
            f"{drift.start_entropy:.3f} | {end_entropy:.3f} |"
        )


if __name__ == "__main__":
    main()
