"""The `maxl` command line: `maxl train ...` (more subcommands join as they are built)."""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from maxl.bench import BenchConfig
from maxl.config import GEN_OPTIMIZERS, PRECISIONS, SCHEDULES, TrainConfig
from maxl.errors import MaxlError
from maxl.hypergrad import HYPERGRADIENT_METHODS
from maxl.methods import METHOD_NAMES
from maxl.models import BACKBONE_NAMES


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


def add_train_options(parser: argparse.ArgumentParser, *, per_run: bool = True) -> None:
    """The options of one run; per_run=False leaves out --method and --seed (compare's own)."""
    defaults = TrainConfig()

    def add(*flags: str, **kwargs: Any) -> None:
        if per_run or flags[0] not in ("--method", "--seed"):
            parser.add_argument(*flags, **kwargs)

    add(
        "--dataset",
        default=defaults.dataset,
        help="fashion-mnist, cifar10, cifar100, mnist, svhn, cinic10, digits, or npz:PATH for "
        "your own data (default: %(default)s)",
    )
    add(
        "--method",
        default=defaults.method,
        choices=METHOD_NAMES,
        help="where auxiliary labels come from: none (single), a fixed random class per image "
        "(random), k-means clusters of autoencoder codes (kmeans), the dataset's finer labels "
        "(human) or a learned generator (maxl) (default: %(default)s)",
    )
    add(
        "--primary-level",
        default=None,
        help="hierarchy level used as the primary task, named by its class count "
        "(fashion-mnist: 2, 6, 10; cifar100: 3, 10, 20, 100; digits: 2, 10); default: the "
        "dataset's usual labels",
    )
    add(
        "--aux-level",
        default=None,
        help="finer level whose classes are the human auxiliary labels and set ψ "
        "(default: the finest level)",
    )
    add(
        "--psi",
        type=parse_psi,
        default=None,
        help="auxiliary classes per primary class: one number for all, or one per class "
        "(3,1,2); default: the human hierarchy when there is one, else 5 each",
    )
    add(
        "--backbone",
        default=defaults.backbone,
        choices=BACKBONE_NAMES,
        help="shared trunk of both networks (default: %(default)s; vgg16 is the paper's)",
    )
    add(
        "--hypergrad",
        default=defaults.hypergrad,
        choices=tuple(HYPERGRADIENT_METHODS),
        help="generator gradient: exact second order, the first-order central difference, or "
        "implicit (the implicit function theorem, Neumann series) (default: %(default)s)",
    )
    add(
        "--neumann-terms",
        type=int,
        default=defaults.neumann_terms,
        help="--hypergrad implicit: Hessian-vector products J of the Neumann series; 0 is the "
        "one-step formula at θ (default: %(default)s)",
    )
    add(
        "--schedule",
        default=defaults.schedule,
        choices=SCHEDULES,
        help="epochs (the paper's): every epoch a pass of multi-task steps, then a pass of "
        "generator steps; batches: per batch the multi-task step, then a generator step that "
        "reuses its work (default: %(default)s)",
    )
    add(
        "--meta-data",
        default=defaults.meta_data,
        help="the batch of MAXL's meta objective: same (the inner step's, the paper's), next "
        "(another training batch), or holdout:F (a seeded fraction F of the training images, "
        "used only for the meta objective) (default: %(default)s)",
    )
    add(
        "--meta-every",
        type=int,
        default=defaults.meta_every,
        help="train the generator on every K-th iteration (or batch of the generator pass) "
        "only; 1 is the paper's "
        "(default: %(default)s)",
    )
    add(
        "--precision",
        default=defaults.precision,
        choices=PRECISIONS,
        help="bf16: bfloat16 autocast where the device supports it (default: %(default)s)",
    )
    add("--epochs", type=int, default=defaults.epochs, help="default: %(default)s")
    add(
        "--eval-every",
        type=int,
        default=defaults.eval_every,
        help="evaluate on the test set every this many epochs, and after the last "
        "(default: %(default)s)",
    )
    add(
        "--analysis-size",
        type=int,
        default=defaults.analysis_size,
        help="training images on which each epoch measures the gradient cosine and the "
        "auxiliary labels' entropy, usage and NMI with human labels; 0 turns it off "
        "(default: %(default)s)",
    )
    add("--batch-size", type=int, default=defaults.batch_size, help="default: %(default)s")
    add(
        "--lr",
        type=float,
        default=defaults.lr,
        help="multi-task SGD learning rate, also the meta step size α (default: %(default)s)",
    )
    add(
        "--momentum",
        type=float,
        default=defaults.momentum,
        help="multi-task SGD momentum (default: %(default)s, as in the paper)",
    )
    add(
        "--gen-optimizer",
        default=defaults.gen_optimizer,
        choices=GEN_OPTIMIZERS,
        help="the generator's optimiser: sgd (the paper's) or adam (default: %(default)s)",
    )
    add(
        "--gen-lr",
        type=float,
        default=defaults.gen_lr,
        help="generator learning rate (default: %(default)s)",
    )
    add(
        "--gen-momentum",
        type=float,
        default=defaults.gen_momentum,
        help="generator SGD momentum; with adam its β₁ when above 0, else 0.9 "
        "(default: %(default)s)",
    )
    add(
        "--gen-weight-decay",
        type=float,
        default=defaults.gen_weight_decay,
        help="generator weight decay (default: %(default)s)",
    )
    add(
        "--lr-step",
        type=int,
        default=defaults.lr_step,
        help="multiply both learning rates by --lr-gamma every this many epochs "
        "(default: %(default)s)",
    )
    add("--lr-gamma", type=float, default=defaults.lr_gamma, help="default: %(default)s")
    add(
        "--aux-weight",
        type=float,
        default=defaults.aux_weight,
        help="weight of the auxiliary loss (default: %(default)s)",
    )
    add(
        "--entropy-weight",
        type=float,
        default=defaults.entropy_weight,
        help="weight λ of the generator's entropy regulariser (default: %(default)s)",
    )
    add(
        "--focal-gamma",
        type=float,
        default=defaults.focal_gamma,
        help="focal-loss γ; 0 is cross-entropy (default: %(default)s)",
    )
    add(
        "--kmeans-epochs",
        type=int,
        default=defaults.kmeans_epochs,
        help="epochs of the kmeans method's autoencoder (default: %(default)s)",
    )
    add(
        "--kmeans-code-dim",
        type=int,
        default=defaults.kmeans_code_dim,
        help="size of the autoencoder codes that kmeans clusters (default: %(default)s)",
    )
    add(
        "--no-augment", dest="augment", action="store_false", help="turn off random crops and flips"
    )
    add(
        "--crop-pad",
        type=int,
        default=None,
        help="zero padding of the random crop (default: image size / 8)",
    )
    add(
        "--train-size",
        type=int,
        default=None,
        help="train on a random subset of this many images, chosen by --seed (default: all)",
    )
    add(
        "--val-fraction",
        type=float,
        default=defaults.val_fraction,
        help="hold out this seeded fraction of the training images as a validation split, "
        "scored every epoch as val_accuracy (default: %(default)s: none)",
    )
    add(
        "--seed",
        type=int,
        default=defaults.seed,
        help="seeds the subset, initialisation, shuffling and augmentation (default: %(default)s)",
    )
    add(
        "--device",
        default=defaults.device,
        help="cpu, cuda, cuda:1, ...; auto picks CUDA when available (default: %(default)s)",
    )
    add(
        "--data-dir",
        type=Path,
        default=None,
        help="folder with the dataset's files (else $MAXL_DATA, system folders, the cache)",
    )
    add(
        "--out",
        type=Path,
        default=None,
        help="output folder for metrics.jsonl and results.json "
        "(default: runs/DATASET-METHOD-seedSEED)",
    )
    add("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    add(
        "--tensorboard",
        action="store_true",
        help="also write every per-epoch metric to OUT/tensorboard/ (needs pip install "
        "'maxl[tensorboard]')",
    )
    add(
        "--image-size",
        type=int,
        default=None,
        help="folder:PATH datasets: resize every image to this square size (default: the "
        "size of the first image)",
    )
    add(
        "--resume",
        action="store_true",
        help="continue the run in --out from its checkpoint (written every epoch and on Ctrl-C); "
        "the settings must match, except --epochs, --eval-every, --device, --data-dir",
    )
    add(
        "--sync-bn",
        action="store_true",
        help="under torchrun: BatchNorm statistics over the global batch, so N processes "
        "compute what one process computes on the whole batch",
    )


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
            help="time one training iteration of single, human and maxl (exact, finite-difference)",
            description="Median seconds per training iteration and peak memory of single, human "
            "and maxl with both hypergradients, on random data, interleaved after a warm-up.",
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


def parse_whole_numbers(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of whole numbers; write e.g. 0,1,2"
        ) from None


def run_compare_command(args: argparse.Namespace) -> None:
    from maxl.compare import default_compare_dir, format_table, run_compare
    from maxl.config_file import load_experiment
    from maxl.tuning import parse_tuning, tuning_table

    settings = load_experiment(args.config) if args.config is not None else {}
    wanted = {*TrainConfig.__dataclass_fields__, "methods", "seeds"}
    given = {k: v for k, v in vars(args).items() if k in wanted}
    settings.update(given)
    if hasattr(args, "tune_single"):
        settings["tune_single"] = parse_tuning(args.tune_single, "--tune-single")
    methods = settings.pop("methods", list(METHOD_NAMES))
    seeds = settings.pop("seeds", [0, 1, 2])
    tuning = settings.pop("tune_single", None)
    base = TrainConfig(**settings)
    out = base.out or default_compare_dir(base)
    summaries, notes, tuned = run_compare(base, methods, seeds, out, log=print, tuning=tuning)
    print()
    if tuned is not None:
        print("single-task tuning (validation accuracy, the test set not used):")
        print(tuning_table(tuned))
        print()
    print(format_table(summaries))
    for note in notes:
        print(note)
    print(f"\nsummary: {out / 'summary.md'}, {out / 'summary.csv'}; plot: {out / 'comparison.png'}")


def run_sweep_command(args: argparse.Namespace) -> None:
    from maxl.config_file import load_experiment
    from maxl.sweep import default_sweep_dir, format_sweep_table, parse_sweep, run_sweep

    field, values = parse_sweep(args.vary[0], args.vary[1:])
    settings = load_experiment(args.config) if args.config is not None else {}
    settings.pop("methods", None)
    if settings.pop("tune_single", None) is not None:
        print(f"note: maxl sweep does not tune single; {args.config}'s tune_single is not used")
    wanted = {*TrainConfig.__dataclass_fields__, "methods", "seeds"}
    settings.update({k: v for k, v in vars(args).items() if k in wanted})
    methods = settings.pop("methods", ["maxl"])
    seeds = settings.pop("seeds", [0, 1, 2])
    base = TrainConfig(**settings)
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
    add("--json", action="store_true", help="print one JSON object instead of the table")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    fields = TrainConfig.__dataclass_fields__
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})


def run_bench_command(args: argparse.Namespace) -> None:
    from maxl.bench import format_table, run_bench

    fields = BenchConfig.__dataclass_fields__
    bench = BenchConfig(**{k: v for k, v in vars(args).items() if k in fields})
    results = run_bench(bench)
    print(json.dumps(results, indent=2) if args.json else format_table(bench, results))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `maxl` command; returns the exit code (2 for bad input)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        if args.command == "train":
            from maxl.checkpoint import refuse_to_overwrite
            from maxl.engine import default_out_dir, train

            config = config_from_args(args)
            if not config.resume:  # a forgotten --resume must not throw away a stopped run
                refuse_to_overwrite(config.out or default_out_dir(config))
            train(config, log=print)
        elif args.command == "compare":
            run_compare_command(args)
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
