"""The rows of `maxl bench`: the same network on the same hierarchy, each with its own settings."""

import torch

from maxl.assembly import assemble_run
from maxl.bench.variants import VARIANTS, BenchConfig, random_dataset, train_config


def test_every_variant_trains_the_same_network_on_the_same_hierarchy():
    bench = BenchConfig(batch_size=4, image_size=8)
    dataset = random_dataset(bench)
    runs = [assemble_run(train_config(bench, v), dataset, torch.device("cpu")) for v in VARIANTS]
    assert all(run.hierarchy.psi == [5] * 20 for run in runs)
    assert [run.method.name for run in runs] == ["single", "human", *["maxl"] * 8]
    configs = {name: run.config for name, run in zip(VARIANTS, runs, strict=True)}
    assert [c.schedule for c in configs.values()][2:] == [
        "batches", "batches", "batches", "epochs", "batches", "batches", "batches", "epochs"
    ]  # fmt: skip
    assert [c.hypergrad for c in configs.values()][2:] == [
        "exact", "finite-difference", "implicit", *["exact"] * 5
    ]  # fmt: skip
    assert [c.meta_depth for c in configs.values()][6:] == [1, None, 1, 1]
    assert [c.gen_backbone for c in configs.values()][6:] == [None, "mlp", "mlp", "mlp"]
    generators = [type(run.method.generator.backbone).__name__ for run in runs[2:]]
    assert generators == ["SmallCNN"] * 5 + ["MLP"] * 3
    for run in runs[1:]:
        for a, b in zip(run.net.parameters(), runs[0].net.parameters(), strict=True):
            assert a.equal(b)
