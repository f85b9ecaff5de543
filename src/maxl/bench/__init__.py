"""`maxl bench`: seconds per training iteration and peak memory of single, human and MAXL
(exact, finite-difference and implicit hypergradients on the fused `batches` schedule, exact on
the paper's `epochs` schedule, and exact with less work per meta step: `--meta-depth 1`, a light
generator, both, and both on the `epochs` schedule) on one backbone, batch and random data.

variants.py: the rows and their data; timing.py: seconds per iteration; memory.py: peak memory,
in a process per row (`python -m maxl.bench`); table.py: both with ratios to single, as a table.
"""

from maxl.bench.table import format_table, run_bench
from maxl.bench.variants import (
    VARIANTS,
    BenchConfig,
    describe,
    random_dataset,
    train_config,
)

__all__ = [
    "VARIANTS",
    "BenchConfig",
    "describe",
    "format_table",
    "random_dataset",
    "run_bench",
    "train_config",
]
