"""Which human classes land in each generated auxiliary class of a finished run, per primary
class with at least two human classes (on all training images, from the run's label table).

    python benchmarks/human_agreement.py runs/sweep-psi/psi-5/maxl-seed0 [more run folders]

Prints per run and primary class: the NMI between the generated and the human labels of the
class's images, the median probability of the most likely auxiliary class (1 / ψ is uniform),
and a count table of auxiliary class × human class.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from maxl.analysis.human import human_agreement
from maxl.assembly.datasets import load_dataset
from maxl.assembly.rebuild import saved_config
from maxl.run_folder import read_aux_labels


def name_of(names: list[str], index: int) -> str:
    return names[index] if index < len(names) else str(index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="folders of finished runs")
    args = parser.parse_args()
    for run_dir in args.runs:
        config = saved_config(run_dir)
        dataset = load_dataset(config.dataset, config.data_dir)
        primary_level = config.primary_level or dataset.default_level
        aux_level = config.aux_level or dataset.levels[-1]
        names = dataset.class_names.get(str(primary_level)) or []
        fine_names = dataset.class_names.get(str(aux_level)) or []
        table = read_aux_labels(run_dir)
        human = dataset.labels_train[str(aux_level)].numpy()[table.rows]
        print(f"## {run_dir}\n")
        found = human_agreement(table.aux, table.confidence, table.primary, human)
        for cls, agreement in found.items():
            print(
                f"{name_of(names, cls)}: NMI {agreement.nmi:.3f}, median top probability "
                f"{agreement.median_confidence:.3f}\n"
            )
            header = [name_of(fine_names, h) for h in agreement.humans]
            print("| aux class | " + " | ".join(header) + " |")
            print("|---|" + "---:|" * len(header))
            for k, counts in zip(agreement.aux_classes, agreement.counts, strict=True):
                print(f"| {k} | " + " | ".join(map(str, counts.tolist())) + " |")
            print()


if __name__ == "__main__":
    main()
