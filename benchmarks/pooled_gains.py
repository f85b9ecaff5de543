"""One method against another over a whole map, paired by size and seed and pooled over the
sizes: a difference too small to read at one size may be read over all of them.

    python benchmarks/pooled_gains.py runs/map-10 maxl:maxl-untrained maxl:single

Prints per comparison FIRST:SECOND each size's paired gains (points: mean ± sample standard
deviation, runs won, then each seed's) and the same pooled over the sizes, with the paired t
and its two-sided p and the exact sign test's two-sided p. Sizes differ in spread, so the
pooled test treats every run alike: a summary, not a model of how the gain depends on size.
"""

from __future__ import annotations

import argparse
from itertools import groupby
from pathlib import Path

from maxl.analysis.pooled import paired_gains, pool
from maxl.errors import MaxlError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("map_folder", type=Path, help="the --out folder of `maxl map`")
    parser.add_argument("pairs", nargs="+", help="FIRST:SECOND method names, e.g. maxl:single")
    args = parser.parse_args()
    for pair in args.pairs:
        first, _, second = pair.partition(":")
        if not first or not second:
            parser.error(f"{pair!r} is not FIRST:SECOND; write two method names, e.g. maxl:single")
        try:
            gains = paired_gains(args.map_folder, first, second)
            pooled = pool([g.points for g in gains])
        except MaxlError as error:
            parser.error(f"{pair}: {error}")
        print(f"\n{args.map_folder}: {first} − {second} (points)")
        for size, group in groupby(gains, key=lambda g: g.size):
            points = [g.points for g in group]
            at = pool(points)
            print(
                f"  {size:>5} images: {at.mean:+.2f} ± {at.std:.2f} ({at.wins}/{at.count}) from "
                + ", ".join(f"{p:+.2f}" for p in points)
            )
        print(
            f"  pooled: {pooled.mean:+.2f} ± {pooled.std:.2f} over {pooled.count} runs, "
            f"won {pooled.wins}; t = {pooled.t:.2f} (p = {pooled.t_p:.3f}); "
            f"sign test p = {pooled.sign_p:.3f}"
        )


if __name__ == "__main__":
    main()
