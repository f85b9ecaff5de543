"""`kmeans`: per-class k-means on autoencoder codes recovers well-separated prototypes."""

from __future__ import annotations

import warnings

import pytest
import torch

from maxl.assembly import METHOD_NAMES, build_method
from maxl.assembly.datasets import load_dataset
from maxl.cli import build_parser, config_from_args
from maxl.config import TrainConfig
from maxl.hierarchy import Hierarchy
from maxl.methods.kmeans import KMeansLabels, cluster_per_class
from maxl.task import choose_psi, resolve_task

CPU = torch.device("cpu")
PSI = [3, 1, 2]
BLOCKS = {0: [0, 1, 2], 1: [3], 2: [4, 5]}  # of ψ = [3, 1, 2], written out by hand


def prototype_images(
    shape: tuple[int, int, int], per_prototype: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ψ[i] random template images per primary class, each repeated with ±6 grey-level noise.

    Returns uint8 images [N, C, H, W], primary labels and prototype ids (0..Σψ-1), shuffled.
    """
    g = torch.Generator().manual_seed(seed)
    templates = torch.randint(0, 256, (sum(PSI), *shape), generator=g)
    prototype = torch.arange(sum(PSI)).repeat_interleave(per_prototype)
    primary = torch.tensor([i for i, size in enumerate(PSI) for _ in range(size)])[prototype]
    noise = torch.randint(-6, 7, (len(prototype), *shape), generator=g)
    images = (templates[prototype] + noise).clamp(0, 255).to(torch.uint8)
    order = torch.randperm(len(prototype), generator=g)
    return images[order], primary[order], prototype[order]


def assert_partition_matches(
    labels: torch.Tensor, primary: torch.Tensor, prototype: torch.Tensor
) -> None:
    """Inside each primary class the labels split the rows exactly as the prototypes do."""
    for i, block in BLOCKS.items():
        rows = primary == i
        pairs = set(zip(prototype[rows].tolist(), labels[rows].tolist(), strict=True))
        protos = {p for p, _ in pairs}
        used = {label for _, label in pairs}
        assert len(pairs) == len(protos) == len(used) == len(block), (i, pairs)
        assert used == set(block)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8)])
def test_labels_recover_the_prototypes(shape: tuple[int, int, int]) -> None:
    images, primary, prototype = prototype_images(shape, per_prototype=6)
    method = KMeansLabels(images, primary, Hierarchy(PSI), CPU, seed=0, epochs=3, code_dim=16)
    labels = method.targets(None, None, torch.arange(len(images)))
    assert labels.shape == (len(images),) and labels.dtype == torch.int64
    for yi, label in zip(primary.tolist(), labels.tolist(), strict=True):
        assert label in BLOCKS[yi]
    assert_partition_matches(labels, primary, prototype)
    losses = method.reconstruction_losses
    assert len(losses) == 3 and losses[-1] < losses[0]


def test_labels_are_fixed_seeded_and_leave_the_global_rng_alone() -> None:
    images, primary, _ = prototype_images((1, 8, 8), per_prototype=4)
    h = Hierarchy(PSI)
    state = torch.get_rng_state()
    a = KMeansLabels(images, primary, h, CPU, seed=4, epochs=2)
    assert torch.equal(torch.get_rng_state(), state)
    b = KMeansLabels(images, primary, h, CPU, seed=4, epochs=2)
    assert a.reconstruction_losses == b.reconstruction_losses
    rows = torch.tensor([5, 0, 5, 17])
    assert torch.equal(a.targets(None, None, rows), b.targets(None, None, rows))
    assert torch.equal(a.targets(None, None, rows), a.targets(None, None, rows))


def test_clustering_separates_blobs_per_class() -> None:
    # Codes: one far-apart Gaussian blob per prototype; both primary classes reuse the same
    # blob centres, so only a per-class clustering keeps their labels in their own blocks.
    g = torch.Generator().manual_seed(0)
    centres = 10 * torch.randn(3, 4, generator=g)
    blob = torch.arange(3).repeat(20)
    codes = torch.cat([centres[blob], centres[blob]]) + 0.1 * torch.randn(120, 4, generator=g)
    primary = torch.cat([torch.zeros(60), 2 * torch.ones(60)]).long()
    h = Hierarchy([3, 1, 3])
    labels = cluster_per_class(codes, primary, h, seed=0)
    assert set(labels[:60].tolist()) == {0, 1, 2}
    assert set(labels[60:].tolist()) == {4, 5, 6}
    for rows in (slice(0, 60), slice(60, 120)):
        pairs = set(zip(blob.tolist(), labels[rows].tolist(), strict=True))
        assert len(pairs) == 3  # a bijection between blobs and clusters


def test_a_class_with_fewer_distinct_images_than_its_block() -> None:
    # Class 0 (ψ=4) has 2 distinct codes: one cluster each, the rest of its block unused.
    # Class 1 (ψ=3) has 3 copies of one code: all get block(1).start. Class 2 (ψ=2) has no rows.
    codes = torch.tensor([[0.0, 0.0], [5.0, 5.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    primary = torch.tensor([0, 0, 0, 1, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing logged or warned
        labels = cluster_per_class(codes, primary, Hierarchy([4, 3, 2]), seed=0)
    first, second = labels[0].item(), labels[1].item()
    assert {first, second} <= {0, 1, 2, 3} and first != second
    assert labels.tolist() == [first, second, first, 4, 4, 4]


def test_a_class_with_fewer_images_than_its_block_end_to_end() -> None:
    images, primary, _ = prototype_images((1, 8, 8), per_prototype=4)
    images, primary = images[primary != 2], primary[primary != 2]
    extra = torch.randint(0, 256, (1, 1, 8, 8), generator=torch.Generator().manual_seed(9))
    images = torch.cat([images, extra.to(torch.uint8)])
    primary = torch.cat([primary, torch.tensor([2])])  # class 2: one image, ψ[2] = 2
    method = KMeansLabels(images, primary, Hierarchy(PSI), CPU, seed=0, epochs=1)
    assert method.targets(None, None, torch.tensor([len(images) - 1])).tolist() == [4]


def test_build_method_and_cli_options() -> None:
    assert "kmeans" in METHOD_NAMES
    args = build_parser().parse_args(
        ["train", "--method", "kmeans", "--kmeans-epochs", "1", "--kmeans-code-dim", "8"]
    )
    config = config_from_args(args)
    assert (config.kmeans_epochs, config.kmeans_code_dim) == (1, 8)
    config = TrainConfig(
        dataset="digits",
        method="kmeans",
        psi=(2,),
        train_size=200,
        seed=1,
        kmeans_epochs=1,
        kmeans_code_dim=8,
    )
    task = resolve_task(load_dataset("digits"), None, config.train_size, config.seed)
    hierarchy = choose_psi(task, config.method, config.psi)
    method = build_method(config, task, hierarchy, lambda: None, CPU)
    assert isinstance(method, KMeansLabels)
    assert len(method.reconstruction_losses) == 1
    labels = method.targets(None, None, torch.arange(len(task.y_train)))
    assert torch.equal(labels // 2, task.y_train)  # ψ = [2] * 10: block of class i is 2i, 2i+1


def test_feature_vectors_are_clustered_as_they_are() -> None:
    """Feature vectors [N, D] skip the autoencoder: planted prototypes are recovered from the
    standardised features themselves."""
    images, primary, prototype = prototype_images((1, 8, 8), per_prototype=6)
    features = images.flatten(1).float() * 3.0 - 100.0  # any scale and offset
    method = KMeansLabels(features, primary, Hierarchy(PSI), CPU, seed=0)
    labels = method.targets(None, None, torch.arange(len(features)))
    assert_partition_matches(labels, primary, prototype)
    assert method.reconstruction_losses == []
