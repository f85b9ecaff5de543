"""The memory probe's process: `python -m maxl.bench '{"variant": ..., <BenchConfig fields>}'`
prints that variant's peak MiB (maxl.bench.memory starts it)."""

import json
import sys

from maxl.bench.memory import probe
from maxl.bench.variants import BenchConfig

settings = json.loads(sys.argv[1])
variant_name = settings.pop("variant")
print(probe(BenchConfig(**settings), variant_name))
