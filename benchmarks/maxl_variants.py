"""MAXL variants on the fair protocol of a config file, each against the tuned single and random
labels on the same seeds (docs/results.md).

    python benchmarks/maxl_variants.py --config configs/fashion-mnist.yaml --out runs/fair

1. The base comparison, as `maxl compare --config FILE --out OUT/base` does it: single tuned on
   a validation split, then every method of the file with the chosen setting.
2. Every variant of MAXL (settings over the file's), with the chosen setting, variant by
   variant into OUT/VARIANT/maxl-seedS (the file's own MAXL, "paper", is the base
   comparison's run); a variant that changes ψ also reruns random at its ψ. Finished runs are
   reused, so a stopped script continues where it stopped.
3. OUT/variants.md and OUT/variants.csv: per variant the test accuracy, the gains paired by seed
   over the tuned single and over random (with the seeds won), and whether the labels moved:
   the share of training images whose most likely auxiliary class is the one the untrained
   generator gave (maxl.analysis.untrained, as label_drift.py), the within-class NMI with the
   human labels and the label entropy after the last epoch.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import statistics
from pathlib import Path
from typing import Any

from maxl.analysis.agreement import same_final_class
from maxl.analysis.untrained import final_classes, untrained_labels
from maxl.assembly.rebuild import rebuilt_run
from maxl.compare import (
    comparable,
    format_table,
    run_compare,
    run_or_reuse,
    summarise,
)
from maxl.config import TrainConfig
from maxl.config_file import load_experiment
from maxl.run_folder import (
    prepare_out_dir,
    read_aux_labels,
    read_metrics,
    read_results,
    write_atomic,
)
from maxl.summaries import sample_std, seeds_won

# name -> (settings over the file's, the methods the variant trains)
VARIANTS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "paper": ({}, ["maxl"]),  # the file's MAXL: the paper's schedule, meta data and generator
    "fused": ({"schedule": "batches"}, ["maxl"]),
    "next": ({"meta_data": "next"}, ["maxl"]),
    "holdout": ({"meta_data": "holdout:0.1"}, ["maxl"]),
    "implicit": ({"hypergrad": "implicit"}, ["maxl"]),
    "adam": ({"gen_optimizer": "adam"}, ["maxl"]),
    "no-entropy": ({"entropy_weight": 0.0}, ["maxl"]),
    "psi2": ({"psi": (2,)}, ["random", "maxl"]),
    "adam-no-entropy": ({"gen_optimizer": "adam", "entropy_weight": 0.0}, ["maxl"]),
    "gen-lr-0.1": ({"gen_lr": 0.1}, ["maxl"]),  # SGD, 100x the paper's step
    # less work per meta step (docs/speed.md): the top block only, a light generator, both
    "depth1": ({"meta_depth": 1}, ["maxl"]),
    "light": ({"gen_backbone": "mlp"}, ["maxl"]),
    "depth1-light": ({"meta_depth": 1, "gen_backbone": "mlp"}, ["maxl"]),
    # the same where the meta-gradient does move labels (gen-lr-0.1)
    "gen-lr-0.1-depth1": ({"gen_lr": 0.1, "meta_depth": 1}, ["maxl"]),
    "gen-lr-0.1-light": ({"gen_lr": 0.1, "gen_backbone": "mlp"}, ["maxl"]),
}
COLUMNS = (
    "variant", "mean_accuracy", "std_accuracy", "runs", "mean_gain_over_single",
    "std_gain_over_single", "seeds_won_over_single", "mean_gain_over_random",
    "std_gain_over_random", "seeds_won_over_random", "same_class_as_untrained",
    "same_class_as_paper", "nmi_human_within", "aux_entropy",
)  # fmt: skip


def label_movement(run_dir: Path, paper_dir: Path) -> dict[str, float]:
    """Share of images still in their untrained generator's class, share given the same final
    class as the paper variant's run of the seed (NaN at another ψ), and the last epoch's
    within-class NMI with the human labels and label entropy."""
    run = rebuilt_run(run_dir)
    start = untrained_labels(run).argmax(1)
    final = final_classes(run_dir, run.task.train_indices)
    last = read_metrics(run_dir)[-1]
    return {
        "same_class_as_untrained": float((start == final).double().mean()),
        "same_class_as_paper": same_final_class(
            read_aux_labels(run_dir), read_aux_labels(paper_dir)
        ),
        "nmi_human_within": float(last.get("nmi_human_within", float("nan"))),
        "aux_entropy": float(last.get("aux_entropy", float("nan"))),
    }


def finished(config: TrainConfig) -> bool:
    """Does config.out hold the results of this very configuration?"""
    assert config.out is not None
    results = read_results(config.out)
    if results is None:
        return False
    return comparable(results.get("config", {})) == comparable(config.to_json())


def mean_of(values: list[float]) -> str:
    return f"{statistics.fmean(values):.6f}" if values else ""


def gain_cell(row: dict[str, Any], reference: str, runs: int) -> str:
    """'+0.50 ± 0.20 (4/5)' from a variants.csv row."""
    mean = float(row[f"mean_gain_over_{reference}"] or "nan")
    std = float(row[f"std_gain_over_{reference}"])
    return f"{100 * mean:+.2f} ± {100 * std:.2f} ({row[f'seeds_won_over_{reference}']}/{runs})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--seeds", default=None, help="comma-separated (default: the file's)")
    parser.add_argument("--base-methods", default=None, help="comma-separated (default: file's)")
    parser.add_argument(
        "--finished-only",
        action="store_true",
        help="train no variant: table those whose runs have all finished (a partial result)",
    )
    args = parser.parse_args()

    settings = load_experiment(args.config)
    methods = settings.pop("methods", ["single", "random", "maxl"])
    if args.base_methods:
        methods = args.base_methods.split(",")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else settings.pop("seeds")
    settings.pop("seeds", None)
    tuning = settings.pop("tune_single", None)
    base = TrainConfig(**settings, progress=False)
    summaries, _, tuned = run_compare(base, methods, seeds, args.out / "base", tuning=tuning)
    print(format_table(summaries))
    chosen = tuned.best.settings if tuned is not None else {}
    reference = {s.method: s.accuracies for s in summaries}

    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    accuracy: dict[str, dict[str, dict[int, float]]] = {n: {} for n in names}
    for name in names:  # variant by variant, so that a stopped script leaves whole variants
        overrides, variant_methods = VARIANTS[name]
        configs = [
            dataclasses.replace(
                base,
                **chosen,
                **overrides,
                method=method,
                seed=seed,
                out=args.out
                / ("base" if not overrides and method in methods else name)
                / f"{method}-seed{seed}",
            )
            for seed in seeds
            for method in variant_methods
        ]
        if args.finished_only and not all(finished(config) for config in configs):
            print(f"variant {name}: not finished, left out")
            continue
        for config in configs:
            assert config.out is not None
            prepare_out_dir(config.out.parent)
            print(f"variant {name}:")
            result = run_or_reuse(config, print)
            accuracy[name].setdefault(config.method, {})[config.seed] = float(
                result["test_accuracy"]
            )
    names = [name for name in names if accuracy[name]]

    rows, table = [], []
    for name in names:
        maxl = accuracy[name]["maxl"]
        random = accuracy[name].get("random", reference.get("random", {}))
        [summary] = summarise({"single": reference.get("single", {}), "random": random,
                               "maxl": maxl})[2:]  # fmt: skip
        folder = args.out / ("base" if not VARIANTS[name][0] and "maxl" in methods else name)
        moved = [
            label_movement(folder / f"maxl-seed{s}", args.out / "base" / f"maxl-seed{s}")
            for s in maxl
        ]
        row = {
            "variant": name,
            "mean_accuracy": f"{summary.mean:.6f}",
            "std_accuracy": f"{summary.std:.6f}",
            "runs": len(maxl),
            "mean_gain_over_single": mean_of(list(summary.gains.values())),
            "std_gain_over_single": f"{sample_std(summary.gains) or 0.0:.6f}",
            "seeds_won_over_single": seeds_won(summary.gains),
            "mean_gain_over_random": mean_of(list(summary.random_gains.values())),
            "std_gain_over_random": f"{sample_std(summary.random_gains) or 0.0:.6f}",
            "seeds_won_over_random": seeds_won(summary.random_gains),
            **{key: mean_of([m[key] for m in moved]) for key in COLUMNS[-4:]},
        }
        rows.append(row)
        n = len(maxl)
        table.append(
            f"| {name} | {100 * summary.mean:.2f} ± {100 * summary.std:.2f} | "
            f"{gain_cell(row, 'single', n)} | {gain_cell(row, 'random', n)} | "
            f"{100 * float(row['same_class_as_untrained']):.1f} % | "
            f"{100 * float(row['same_class_as_paper']):.1f} % | "
            f"{float(row['nmi_human_within']):.3f} | {float(row['aux_entropy']):.3f} |"
        )
    header = [
        f"# MAXL variants on {base.dataset} ({args.config}), seeds {seeds}",
        "",
        f"Chosen single-task setting: {chosen or 'the file as given'}.",
        "",
        "| variant | test accuracy (%) | gain over tuned single (points, seeds won) | gain over "
        "random (points, seeds won) | images in their untrained class | images in the "
        "paper variant's final class | NMI with human (within) | label entropy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    text = "\n".join([*header, *table, ""])
    write_atomic(args.out / "variants.md", lambda handle: handle.write(text.encode()))
    with (args.out / "variants.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(text)


if __name__ == "__main__":
    main()
