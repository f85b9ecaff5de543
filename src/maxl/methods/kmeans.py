"""`kmeans`: auxiliary classes = k-means clusters of autoencoder codes, per primary class."""

from __future__ import annotations

import torch
from sklearn.cluster import KMeans

from maxl.data.batches import channel_stats, to_float
from maxl.errors import MaxlError
from maxl.hierarchy import Hierarchy
from maxl.methods.base import AuxiliaryLabels
from maxl.models.autoencoder import ConvAutoencoder, encode_images, train_autoencoder


def cluster_per_class(
    codes: torch.Tensor, primary: torch.Tensor, hierarchy: Hierarchy, seed: int, n_init: int = 10
) -> torch.Tensor:
    """Cluster the codes [N, D] of each primary class i into ψ[i] clusters; int64 [N] labels.

    The label of a row is block(i).start + its cluster index. k-means cannot find more clusters
    than distinct points, so a class with fewer distinct codes than ψ[i] gets one cluster per
    distinct code (identical images share a label) and the rest of its block stays unused; a
    class with a single cluster labels every row block(i).start.
    """
    hierarchy.check_labels(primary)
    if codes.dim() != 2 or len(codes) != len(primary):
        raise MaxlError(
            f"codes must be [N, D] with one row per label, got {tuple(codes.shape)} for "
            f"{len(primary)} labels"
        )
    codes, primary = codes.detach().cpu().double(), primary.cpu()
    labels = torch.empty_like(primary)
    for i in range(hierarchy.num_primary):
        rows = (primary == i).nonzero().squeeze(1)
        block = hierarchy.block(i)
        k = min(len(block), len(torch.unique(codes[rows], dim=0)))
        if k <= 1:
            labels[rows] = block.start
            continue
        kmeans = KMeans(n_clusters=k, n_init=n_init, random_state=seed)
        clusters = kmeans.fit_predict(codes[rows].numpy())
        labels[rows] = block.start + torch.from_numpy(clusters).long()
    return labels


class KMeansLabels(AuxiliaryLabels):
    """Fixed labels from k-means on the codes of an autoencoder fitted once, at construction.

    The autoencoder (initialised from `seed`, without touching the global RNG) is trained on
    `images` (uint8 [N, C, H, W]) on `device`; `reconstruction_losses` keeps its per-epoch MSE.
    """

    name = "kmeans"

    def __init__(
        self,
        images: torch.Tensor,
        primary: torch.Tensor,
        hierarchy: Hierarchy,
        device: torch.device,
        *,
        seed: int = 0,
        epochs: int = 5,
        code_dim: int = 32,
        batch_size: int = 100,
        lr: float = 1e-3,
        n_init: int = 10,
    ) -> None:
        if len(images) != len(primary):
            raise MaxlError(f"{len(images)} images but {len(primary)} primary labels")
        images = images.to(device)
        if images.dim() == 2:  # feature vectors: k-means of the standardised features
            mean, std = channel_stats(images)
            self.reconstruction_losses: list[float] = []
            codes = to_float(images, mean, std).cpu()
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = ConvAutoencoder(images.shape[1], code_dim=code_dim)
            model.to(device)
            self.reconstruction_losses = train_autoencoder(
                model, images, epochs=epochs, seed=seed, batch_size=batch_size, lr=lr
            )
            codes = encode_images(model, images)
        labels = cluster_per_class(codes, primary, hierarchy, seed, n_init=n_init)
        self.aux_classes = labels.to(device)

    def targets(self, x: torch.Tensor, y: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return self.aux_classes[rows]
