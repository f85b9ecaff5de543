"""One method against another over a whole map, paired by size and seed and pooled over the
sizes: a difference too small to read at one size may be read over all of them.

    python benchmarks/pooled_gains.py runs/map-10 maxl:maxl-untrained maxl:single
    python benchmarks/pooled_gains.py runs/seeds34-pairs maxl:single \\
        --recorded docs/recorded/map-pairs.csv

Prints per comparison FIRST:SECOND each size's paired gains (points: mean ± sample standard
deviation, runs won, then each seed's) and the same pooled over the sizes, with the paired t
and its two-sided p and the exact sign test's two-sided p. Sizes differ in spread, so the
pooled test treats every run alike: a summary, not a model of how the gain depends on size.
With --recorded, rows whose run folders are gone enter by their recorded summary and pool
exactly with the folder's runs of other seeds; the folder's runs of a recorded seed are listed
and left out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from maxl.analysis.pooled import (
    GainSummary,
    PairedGain,
    RecordedRow,
    combine,
    paired_gains,
    paired_tests,
    read_recorded,
    summarise_gains,
)
from maxl.errors import MaxlError


def size_line(
    size: int, row: RecordedRow | None, gains: list[PairedGain]
) -> tuple[str, list[GainSummary]]:
    """One size's line and the summaries it pools: the recorded row and the new runs."""
    new = [g for g in gains if row is None or g.seed not in row.seeds]
    again = [g for g in gains if row is not None and g.seed in row.seeds]
    parts: list[GainSummary] = [row.summary] if row else []
    if new:
        parts.append(summarise_gains([g.points for g in new]))
    whole = combine(parts)
    line = f"  {size:>5} images: {whole.mean:+.2f} ± {whole.std:.2f} ({whole.wins}/{whole.count})"
    if row is not None:
        seeds = " ".join(map(str, row.seeds))
        recorded = row.summary
        line += f"; recorded, seeds {seeds}: {recorded.mean:+.2f} ± {recorded.std:.2f}"
    if new:
        line += "; " + ", ".join(f"seed {g.seed} {g.points:+.2f}" for g in new)
    if again:
        line += "; run again, left out: " + ", ".join(
            f"seed {g.seed} {g.points:+.2f}" for g in again
        )
    return line, parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("map_folder", type=Path, help="the --out folder of `maxl map`")
    parser.add_argument("pairs", nargs="+", help="FIRST:SECOND method names, e.g. maxl:single")
    parser.add_argument(
        "--recorded",
        type=Path,
        help="CSV of rows whose run folders are gone (first,second,size,seeds,mean,std,wins,ties)",
    )
    args = parser.parse_args()
    try:
        recorded = read_recorded(args.recorded) if args.recorded else []
    except MaxlError as error:
        parser.error(str(error))
    for pair in args.pairs:
        first, _, second = pair.partition(":")
        if not first or not second:
            parser.error(f"{pair!r} is not FIRST:SECOND; write two method names, e.g. maxl:single")
        rows = {r.size: r for r in recorded if (r.first, r.second) == (first, second)}
        try:
            gains = paired_gains(args.map_folder, first, second)
            sizes = sorted(rows.keys() | {g.size for g in gains})
            if not sizes:
                raise MaxlError("no paired runs: both methods need finished runs of the same seed")
        except MaxlError as error:
            parser.error(f"{pair}: {error}")
        print(f"\n{args.map_folder}: {first} − {second} (points)")
        pooled_parts: list[GainSummary] = []
        for size in sizes:
            line, parts = size_line(size, rows.get(size), [g for g in gains if g.size == size])
            print(line)
            pooled_parts += parts
        pooled = paired_tests(combine(pooled_parts))
        print(
            f"  pooled: {pooled.mean:+.2f} ± {pooled.std:.2f} over {pooled.count} runs, "
            f"won {pooled.wins}; t = {pooled.t:.2f} (p = {pooled.t_p:.2g}); "
            f"sign test p = {pooled.sign_p:.2g}"
        )


if __name__ == "__main__":
    main()
