"""The `maxl` command line: `maxl train ...` (more subcommands join as they are built)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import traceback
import typing
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from maxl.assembly import METHOD_NAMES
from maxl.assembly.backbones import BACKBONE_NAMES
from maxl.bench import BenchConfig
from maxl.config import (
    GEN_OPTIMIZERS,
    LR_SCHEDULES,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    TrainConfig,
    field_types,
)
from maxl.errors import MaxlError
from maxl.hypergrad import HYPERGRADIENT_METHODS
from maxl.jobs import show_one_line


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the problem and where to look, no usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def parse_psi(text: str) -> tuple[int, ...]:
    """'5' -> (5,) (five per primary class); '3,1,2' -> (3, 1, 2)."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of whole numbers; write e.g. 5 or 3,1,2"
        ) from None


def option_choices() -> dict[str, Sequence[str]]:
    """The TrainConfig fields whose values are names, and the names each accepts."""
    return {
        "method": METHOD_NAMES,
        "backbone": BACKBONE_NAMES,
        "gen_backbone": BACKBONE_NAMES,
        "hypergrad": tuple(HYPERGRADIENT_METHODS),
        "schedule": SCHEDULES,
        "precision": PRECISIONS,
        "gen_optimizer": GEN_OPTIMIZERS,
        "optimizer": OPTIMIZERS,
        "lr_schedule": LR_SCHEDULES,
    }


def add_train_options(parser: argparse.ArgumentParser, *, per_run: bool = True) -> None:
    """One long option per TrainConfig field, typed, with the field's help and default;
    per_run=False leaves out --method and --seed (compare's own). A flag whose default is on
    is written --no-NAME."""
    hints = field_types()
    choices = option_choices()
    for spec in dataclasses.fields(TrainConfig):
        name = spec.name
        if not per_run and name in ("method", "seed"):
            continue
        flag, help_text = "--" + name.replace("_", "-"), spec.metadata["help"]
        if hints[name] is bool:
            negated = spec.default is True
            parser.add_argument(
                f"--no-{name.replace('_', '-')}" if negated else flag,
                dest=name,
                action="store_false" if negated else "store_true",
                help=help_text,
            )
            continue
        if spec.default is not None and "default" not in help_text:
            help_text += " (default: %(default)s)"
        parser.add_argument(
            flag,
            type=value_type(hints[name]),
            default=spec.default,
            choices=choices.get(name),
            help=help_text,
        )


def value_type(hint: Any) -> Callable[[str], Any]:
    """How the command line's text becomes a field's value: ψ's list, else the field's type."""
    kinds = [kind for kind in typing.get_args(hint) or (hint,) if kind is not type(None)]
    if typing.get_origin(kinds[0]) is tuple:
        return parse_psi
    return kinds[0]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="maxl",
        description="Meta AuXiliary Learning: train classifiers with auxiliary labels that a "
        "label-generation network learns by a meta-gradient.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train",
        help="train one method on one dataset",
        description="Train one method; writes OUT/metrics.jsonl (per epoch) and OUT/results.json.",
    )
    add_train_options(train)
    compare = commands.add_parser(
        "compare",
        help="train several methods over several seeds and summarise",
        description="Train every method with every seed (same subset and initialisation per "
        "seed), then write OUT/summary.md, OUT/summary.csv and OUT/comparison.png and print the "
        "table. Options given here override those of --config, which override the defaults.",
    )
    add_compare_options(compare)
    sweep = commands.add_parser(
        "sweep",
        help="train at several values of one setting (e.g. psi, entropy-weight) and summarise",
        description="Train every method with every seed at each value of one setting, each "
        "value into OUT/FIELD-VALUE (a comparison folder), then write OUT/sweep.md, "
        "OUT/sweep.csv and OUT/sweep.png. Sweeps maxl alone unless --methods says otherwise "
        "(a --config file's methods are not used). Example: maxl sweep --config "
        "configs/fashion-mnist.yaml --vary psi 2 5 10",
    )
    add_compare_options(sweep)
    predict = commands.add_parser(
        "predict",
        help="predict the primary classes of a dataset's test split with a trained run",
        description="Load the trained network of RUN_DIR with its input conversion, predict "
        "the primary class of every test image (or feature vector) of --dataset, write one "
        "prediction per row to --out (CSV) and print the accuracy where labels are present.",
    )
    predict.add_argument("run_dir", type=Path, help="a run folder (maxl train, compare or fit)")
    predict.add_argument("--dataset", required=True, help="npz:PATH, folder:PATH or a dataset name")
    predict.add_argument("--data-dir", type=Path, default=None, help="folder of its files")
    predict.add_argument(
        "--which",
        choices=("last", "best"),
        default="last",
        help="the last epoch's network, or the best validation epoch's (best.pt)",
    )
    predict.add_argument(
        "--out", type=Path, default=None, help="CSV file (default: RUN_DIR/predictions.csv)"
    )
    gain_map = commands.add_parser(
        "map",
        help="compare the methods at several training-set sizes: where auxiliary labels help",
        description="Run the comparison (tunings included) at every training-set size of the "
        "--config file's map (map: {train_size: [...], epochs: [...]}) or of --sizes, each "
        "into OUT/size-N, then write OUT/map.md, OUT/map.csv and OUT/map.png. Resumes and "
        "reuses finished runs.",
    )
    add_compare_options(gain_map)
    gain_map.add_argument(
        "--sizes",
        type=parse_whole_numbers,
        default=None,
        help="training-set sizes, comma-separated (overrides the file's map train_size)",
    )
    gain_map.add_argument(
        "--size-epochs",
        type=parse_whole_numbers,
        default=None,
        help="epochs at each size, comma-separated, one per size or one for all",
    )
    sweep.add_argument(
        "--vary",
        nargs="+",
        required=True,
        metavar=("SETTING", "VALUE"),
        help="the setting (a long option's name, e.g. psi or entropy-weight) and its values",
    )
    add_bench_options(
        commands.add_parser(
            "bench",
            help="time one training iteration of single, human and maxl's variants",
            description="Median seconds per training iteration and peak memory of single, human "
            "and maxl (each hypergradient, both schedules, --meta-depth 1 and a light generator), "
            "on random data, interleaved after a warm-up; ratios are to single in the same run.",
        )
    )
    show = commands.add_parser(
        "show",
        help="draw what a run (or a comparison) learned: figures and a report",
        description="For a run folder: PATH/figures/*.png (curves, gradient cosine, auxiliary "
        "label usage, image grids of the auxiliary classes) and PATH/report.md. For a "
        "comparison folder: the methods' curves overlaid, and a report.md table.",
    )
    show.add_argument("path", type=Path, help="a folder written by maxl train or maxl compare")
    show.add_argument(
        "--classes",
        type=parse_whole_numbers,
        default=None,
        help="primary classes (indices, comma-separated) that get image grids "
        "(default: up to four with the most auxiliary classes)",
    )
    return parser


def add_compare_options(parser: argparse.ArgumentParser) -> None:
    add_train_options(parser, per_run=False)
    for action in parser._actions:  # only options given on the command line override --config
        if action.dest in TrainConfig.__dataclass_fields__:
            if action.help:
                action.help = action.help.replace("%(default)s", str(action.default))
            action.default = argparse.SUPPRESS
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML file of options (e.g. configs/fashion-mnist.yaml), keys as the long options",
    )
    parser.add_argument(
        "--methods",
        type=lambda text: [m.strip() for m in text.split(",") if m.strip()],
        default=argparse.SUPPRESS,
        help="comma-separated (default: " + ",".join(METHOD_NAMES) + ")",
    )
    parser.add_argument(
        "--seeds",
        type=parse_whole_numbers,
        default=argparse.SUPPRESS,
        help="comma-separated seeds (default: 0,1,2)",
    )
    parser.add_argument(
        "--tune-single",
        nargs="+",
        default=argparse.SUPPRESS,
        metavar="SETTING=V1,V2",
        help="tune single-task training first: single runs at every combination (e.g. "
        "lr=0.02,0.05,0.1 momentum=0,0.9; val_fraction=0.1 sets the validation share of the "
        "training images), the best mean validation accuracy wins and every method trains "
        "with it; 'off' drops a config file's tuning",
    )
    for method in ("maxl", "random", "kmeans", "human"):
        parser.add_argument(
            f"--tune-{method}",
            nargs="+",
            default=argparse.SUPPRESS,
            metavar="SETTING=V1,V2",
            help=f"then tune {method}'s own settings the same way (e.g. gen_lr=0.001,0.01), "
            "at single's chosen setting, on no more runs than single had; 'off' drops a "
            "config file's",
        )
    parser.add_argument(
        "--jobs",
        type=int,
        default=argparse.SUPPRESS,
        help="trainings at once, each in a process of its own (default: 1)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=argparse.SUPPRESS,
        help="threads of each training (default: the cores shared out among the jobs; with "
        "one job, torch's default). Fix it to make runs comparable across --jobs",
    )


def parse_whole_numbers(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of whole numbers; write e.g. 0,1,2"
        ) from None


def run_compare_command(args: argparse.Namespace) -> None:
    from maxl.compare import default_compare_dir, format_table, run_compare
    from maxl.tuning import tuning_table

    plan = Comparison.from_args(args)
    out = plan.base.out or default_compare_dir(plan.base)
    summaries, notes, tuned = run_compare(
        plan.base, plan.methods, plan.seeds, out, log=print, **plan.options()
    )
    print()
    if tuned is not None:
        print("single-task tuning (validation accuracy, the test set not used):")
        print(tuning_table(tuned))
        print()
    print(format_table(summaries))
    for note in notes:
        print(note)
    print(f"\nsummary: {out / 'summary.md'}, {out / 'summary.csv'}; plot: {out / 'comparison.png'}")


def run_predict_command(args: argparse.Namespace) -> None:
    from maxl.assembly.datasets import load_dataset
    from maxl.run_folder import read_results, write_atomic
    from maxl.trained import load

    model = load(args.run_dir, which=args.which)
    config = (read_results(args.run_dir) or {}).get("config", {})
    dataset = load_dataset(args.dataset, args.data_dir, image_size=config.get("image_size"))
    predictions = model.predict(dataset.x_test)
    level = config.get("primary_level") or dataset.default_level
    labels = dataset.labels_test.get(level)
    lines = ["row,prediction" + (",label" if labels is not None else "")]
    for row, predicted in enumerate(predictions.tolist()):
        label = f",{int(labels[row])}" if labels is not None else ""
        lines.append(f"{row},{predicted}{label}")
    out = args.out or args.run_dir / "predictions.csv"
    write_atomic(out, lambda handle: handle.write(("\n".join(lines) + "\n").encode()))
    print(f"{len(predictions)} predictions in {out}")
    if labels is not None:
        accuracy = (predictions == labels).double().mean().item()
        print(f"accuracy {100 * accuracy:.2f}% on the {len(labels)} test rows (level {level})")


def run_map_command(args: argparse.Namespace) -> None:
    from maxl.config_file import MapPlan, parse_map
    from maxl.gain_map import map_table, run_map

    comparison = Comparison.from_args(args)
    plan: MapPlan | None = comparison.sizes
    if args.sizes is not None:
        epochs = args.size_epochs or per_size_of(plan, args.sizes, "epochs")
        tune_seeds = per_size_of(plan, args.sizes, "tune_seeds")
        given = {"train_size": args.sizes, "epochs": epochs, "tune_seeds": tune_seeds}
        plan = parse_map(given, "--sizes")
    elif args.size_epochs is not None and plan is not None:
        given = {"train_size": list(plan.sizes), "epochs": args.size_epochs}
        plan = parse_map({**given, "tune_seeds": list(plan.tune_seeds)}, "map")
    if plan is None:
        raise MaxlError(
            "maxl map needs training-set sizes: give --sizes 250,500,1000 or a --config file "
            "with map: {train_size: [...], epochs: [...]}"
        )
    base = comparison.base
    out = base.out or Path("runs") / "map"
    rows = run_map(
        base, plan, comparison.methods, comparison.seeds, out, log=print, **comparison.options()
    )
    print()
    print(map_table(rows))
    print(f"\nmap: {out / 'map.md'}, {out / 'map.csv'}; plot: {out / 'map.png'}")


def per_size_of(plan: Any, sizes: list[int], key: str) -> list[int]:
    """The `key` values (epochs, tune_seeds) a config file's map gives each of `sizes` (none:
    the run's own)."""
    values = getattr(plan, key) if plan is not None else ()
    if not values:
        return []
    missing = [size for size in sizes if size not in plan.sizes]
    if missing:
        fix = "add --size-epochs with one value per size" if key == "epochs" else "add them there"
        raise MaxlError(
            f"--sizes {','.join(map(str, missing))} are not in the file's map, which gives "
            f"{key} per size; {fix}"
        )
    return [values[plan.sizes.index(size)] for size in sizes]


def compare_settings(args: argparse.Namespace) -> dict[str, Any]:
    """A --config file's settings, overridden by the options given on the command line."""
    from maxl.config_file import TUNING_KEYS, load_experiment
    from maxl.tuning import parse_tuning

    settings = load_experiment(args.config) if args.config is not None else {}
    wanted = {*TrainConfig.__dataclass_fields__, "methods", "seeds", "jobs", "threads"}
    settings.update({k: v for k, v in vars(args).items() if k in wanted})
    for key in TUNING_KEYS:
        if hasattr(args, key):
            settings[key] = parse_tuning(getattr(args, key), "--" + key.replace("_", "-"))
    return settings


@dataclasses.dataclass(frozen=True)
class Comparison:
    """What `maxl compare` and `maxl map` were asked for: the base settings, the methods and
    seeds, the tunings, the jobs and the map's sizes (a --config file's, overridden by the
    command line's options)."""

    base: TrainConfig
    methods: list[str]
    seeds: list[int]
    tuning: Any  # tuning.Tuning of single, or None
    method_tunings: dict[str, Any]  # method or variant -> tuning.Tuning
    variants: dict[str, Any]  # name -> variants.Variant
    jobs: int
    threads: int | None
    sizes: Any  # config_file.MapPlan, or None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Comparison:
        settings = compare_settings(args)
        tunings = {
            key.removeprefix("tune_"): settings.pop(key)
            for key in [key for key in settings if key.startswith("tune_")]
        }
        single = tunings.pop("single", None)
        return cls(
            methods=settings.pop("methods", list(METHOD_NAMES)),
            seeds=settings.pop("seeds", [0, 1, 2]),
            tuning=single,
            method_tunings={m: grid for m, grid in tunings.items() if grid is not None},
            variants=settings.pop("variants", {}),
            jobs=settings.pop("jobs", 1),
            threads=settings.pop("threads", None),
            sizes=settings.pop("map", None),
            base=TrainConfig.from_mapping(settings, f"maxl {args.command}"),
        )

    def options(self) -> dict[str, Any]:
        """The keywords run_compare and run_map share."""
        return {
            "tuning": self.tuning,
            "method_tunings": self.method_tunings,
            "variants": self.variants,
            "jobs": self.jobs,
            "threads": self.threads,
        }


def run_sweep_command(args: argparse.Namespace) -> None:
    from maxl.config_file import load_experiment
    from maxl.sweep import default_sweep_dir, format_sweep_table, parse_sweep, run_sweep

    field, values = parse_sweep(args.vary[0], args.vary[1:])
    settings = load_experiment(args.config) if args.config is not None else {}
    settings.pop("methods", None)
    for key in ("jobs", "threads", "map", "variants"):
        settings.pop(key, None)
    for key in [key for key in settings if key.startswith("tune_")]:
        if settings.pop(key) is not None:
            print(f"note: maxl sweep does not tune; {args.config}'s {key} is not used")
    wanted = {*TrainConfig.__dataclass_fields__, "methods", "seeds"}
    settings.update({k: v for k, v in vars(args).items() if k in wanted})
    methods = settings.pop("methods", ["maxl"])
    seeds = settings.pop("seeds", [0, 1, 2])
    base = TrainConfig.from_mapping(settings, "maxl sweep")
    out = base.out or default_sweep_dir(base, field)
    labels = list(args.vary[1:])
    points = run_sweep(base, field, labels, values, methods, seeds, out, log=print)
    print()
    print(format_sweep_table(field, points))
    print(f"\nsummary: {out / 'sweep.md'}, {out / 'sweep.csv'}; plot: {out / 'sweep.png'}")


def add_bench_options(parser: argparse.ArgumentParser) -> None:
    defaults = BenchConfig()
    add = parser.add_argument
    add(
        "--backbone", default=defaults.backbone, choices=BACKBONE_NAMES, help="default: %(default)s"
    )
    for name in ("batch_size", "image_size", "channels", "iterations", "warmup", "meta_every"):
        flag = "--" + name.replace("_", "-")
        add(flag, type=int, default=getattr(defaults, name), help="default: %(default)s")
    add("--device", default=defaults.device, help="cpu, cuda, ...; default: %(default)s")
    add("--precision", default=defaults.precision, choices=PRECISIONS, help="default: %(default)s")
    add(
        "--light-generator",
        default=None,
        choices=BACKBONE_NAMES,
        help="the generator trunk of the rows with a light generator (default: small-cnn, or "
        "mlp when --backbone is small-cnn)",
    )
    add("--json", action="store_true", help="print one JSON object instead of the table")
    add(
        "--phases",
        nargs="?",
        const="exact,finite-difference",
        default=None,
        metavar="ROWS",
        help="instead: where the time of each row's iteration goes, by the regions of the real "
        "meta-gradient (comma-separated rows; default: %(const)s)",
    )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of `maxl train`'s options."""
    fields = TrainConfig.__dataclass_fields__
    return TrainConfig.from_mapping(
        {k: v for k, v in vars(args).items() if k in fields}, f"maxl {args.command}"
    )


def run_bench_command(args: argparse.Namespace) -> None:
    from maxl.bench import format_table, run_bench

    fields = BenchConfig.__dataclass_fields__
    bench = BenchConfig(**{k: v for k, v in vars(args).items() if k in fields})
    if args.phases is not None:
        from maxl.bench.phases import format_phases, phase_rows, profile_phases

        profile = profile_phases(bench, phase_rows(args.phases))
        print(json.dumps(profile, indent=2) if args.json else format_phases(bench, profile))
        return
    results = run_bench(bench)
    print(json.dumps(results, indent=2) if args.json else format_table(bench, results))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `maxl` command; returns the exit code (2 for bad input). Warnings
    show as one line each while it runs."""
    with warnings.catch_warnings():
        warnings.showwarning = show_one_line
        return run_command(argv)


def run_command(argv: Sequence[str] | None) -> int:
    """Parse the command line and run the command."""
    try:
        args, extras = build_parser().parse_known_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if extras:
        command = f"maxl {args.command}"
        print(
            f"{command}: error: unrecognized arguments: {' '.join(extras)} (see: {command} --help)",
            file=sys.stderr,
        )
        return 2
    try:
        if args.command == "train":
            from maxl.assembly import default_out_dir, train
            from maxl.checkpoint import refuse_to_overwrite

            config = config_from_args(args)
            if not config.resume:  # a forgotten --resume must not throw away a stopped run
                refuse_to_overwrite(config.out or default_out_dir(config))
            train(config, log=print)
        elif args.command == "compare":
            run_compare_command(args)
        elif args.command == "predict":
            run_predict_command(args)
        elif args.command == "map":
            run_map_command(args)
        elif args.command == "sweep":
            run_sweep_command(args)
        elif args.command == "bench":
            run_bench_command(args)
        elif args.command == "show":
            from maxl.report import show

            show(args.path, log=print, classes=args.classes)
    except MaxlError as error:
        if args.debug:
            traceback.print_exc()
        print(f"maxl: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        print(f"maxl: interrupted{f': {interrupt}' if str(interrupt) else ''}", file=sys.stderr)
        return 130
    return 0
