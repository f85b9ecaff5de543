"""Which human classes land in each generated auxiliary class of a finished run, per primary
class with at least two human classes (on all training images, from aux_labels.npz).

    python benchmarks/human_agreement.py runs/sweep-psi/psi-5/maxl-seed0 [more run folders]

Prints per run and primary class: the NMI between the generated and the human labels of the
class's images, the median probability of the most likely auxiliary class (1 / ψ is uniform),
and a count table of auxiliary class × human class.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from maxl.analysis.metrics import normalized_mutual_information
from maxl.assembly.datasets import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="folders of finished runs")
    args = parser.parse_args()
    for run_dir in args.runs:
        config = json.loads((run_dir / "results.json").read_text())["config"]
        dataset = load_dataset(config["dataset"], config["data_dir"])
        primary_level = config["primary_level"] or dataset.default_level
        aux_level = config["aux_level"] or dataset.levels[-1]
        names = dataset.class_names.get(str(primary_level)) or []
        fine_names = dataset.class_names.get(str(aux_level)) or []
        table = np.load(run_dir / "aux_labels.npz")
        fine = dataset.labels_train[str(aux_level)].numpy()[table["rows"]]
        print(f"## {run_dir}\n")
        for cls in np.unique(table["primary"]):
            mine = table["primary"] == cls
            humans = np.unique(fine[mine])
            if len(humans) < 2:
                continue
            aux = table["aux"][mine]
            nmi = normalized_mutual_information(torch.from_numpy(aux), torch.from_numpy(fine[mine]))
            name = names[cls] if cls < len(names) else str(cls)
            median = float(np.median(table["confidence"][mine]))
            print(f"{name}: NMI {nmi:.3f}, median top probability {median:.3f}\n")
            header = [fine_names[h] if h < len(fine_names) else str(h) for h in humans]
            print("| aux class | " + " | ".join(header) + " |")
            print("|---|" + "---:|" * len(humans))
            for k in np.unique(aux):
                counts = [int(np.sum((aux == k) & (fine[mine] == h))) for h in humans]
                print(f"| {k} | " + " | ".join(map(str, counts)) + " |")
            print()


if __name__ == "__main__":
    main()
