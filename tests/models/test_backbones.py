"""Backbones: shapes, hand-computed parameter counts, BatchNorm, gradients, registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from maxl.assembly.backbones import BACKBONE_NAMES, build_backbone
from maxl.errors import MaxlError
from maxl.models.resnet import ResNet18
from maxl.models.small_cnn import SmallCNN
from maxl.models.vgg import VGG16BN


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def conv_bn(cin: int, cout: int, k: int, conv_bias: bool) -> int:
    """Parameters of a k x k conv (optionally with bias) followed by BatchNorm (weight + bias)."""
    return k * k * cin * cout + (cout if conv_bias else 0) + 2 * cout


# ---------------------------------------------------------------- shapes and feature_dim


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("size", [8, 28])
def test_small_cnn_shapes(in_channels: int, size: int) -> None:
    torch.manual_seed(0)
    m = SmallCNN(in_channels)
    assert m.feature_dim == 128
    out = m(torch.randn(3, in_channels, size, size))
    assert out.shape == (3, 128)
    assert torch.isfinite(out).all()


def test_small_cnn_width_and_smallest_size() -> None:
    m = SmallCNN(1, width=8)
    assert m.feature_dim == 32
    assert m(torch.randn(2, 1, 4, 4)).shape == (2, 32)
    assert m(torch.randn(2, 1, 5, 9)).shape == (2, 32)  # non-square works too


@pytest.mark.parametrize("cls", [VGG16BN, ResNet18])
@pytest.mark.parametrize("in_channels", [1, 3])
def test_large_backbone_shapes(cls: type[nn.Module], in_channels: int) -> None:
    torch.manual_seed(0)
    m = cls(in_channels)
    assert m.feature_dim == 512
    out = m(torch.randn(2, in_channels, 32, 32))
    assert out.shape == (2, 512)
    assert torch.isfinite(out).all()


def test_vgg_reaches_1x1_map_at_32_and_pools_larger_inputs() -> None:
    m = VGG16BN(3).eval()
    x = torch.randn(2, 3, 32, 32)
    assert m.features(x).shape == (2, 512, 1, 1)  # five 2x2 pools: 32 -> 1
    assert m(torch.randn(2, 3, 40, 48)).shape == (2, 512)


def test_resnet_downsamples_by_8() -> None:
    m = ResNet18(3).eval()
    assert m.layers(m.stem(torch.randn(2, 3, 32, 32))).shape == (2, 512, 4, 4)


def test_features_are_global_average_of_last_map() -> None:
    torch.manual_seed(0)
    m = SmallCNN(1).eval()
    x = torch.randn(2, 1, 28, 28)
    fmap = m.features(x)
    assert fmap.shape == (2, 128, 7, 7)  # 28 -> 14 -> 7 after the two max-pools
    torch.testing.assert_close(m(x), fmap.flatten(2).sum(-1) / 49)


# ---------------------------------------------------------------- exact parameter counts


@pytest.mark.parametrize(("in_channels", "width"), [(1, 32), (3, 16)])
def test_small_cnn_param_count(in_channels: int, width: int) -> None:
    w = width
    expected = (
        (9 * in_channels * w + 2 * w)  # conv (no bias) + BN
        + (9 * w * 2 * w + 2 * 2 * w)
        + (9 * 2 * w * 4 * w + 2 * 4 * w)
    )
    assert n_params(SmallCNN(in_channels, width)) == expected


@pytest.mark.parametrize("in_channels", [1, 3])
def test_vgg16_bn_param_count(in_channels: int) -> None:
    widths = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    cins = [in_channels, *widths[:-1]]
    expected = sum(9 * cin * cout + cout + 2 * cout for cin, cout in zip(cins, widths, strict=True))
    assert n_params(VGG16BN(in_channels)) == expected


def test_vgg16_bn_param_count_matches_known_cifar_figure() -> None:
    # The widely reported CIFAR-10 VGG-16-BN size is 14,728,266 parameters; its 512 -> 10 linear
    # classifier accounts for 512 * 10 + 10 = 5,130 of them.
    assert n_params(VGG16BN(3)) == 14_728_266 - 5_130


@pytest.mark.parametrize("in_channels", [1, 3])
def test_resnet18_param_count(in_channels: int) -> None:
    stem = conv_bn(in_channels, 64, 3, conv_bias=False)

    def block(cin: int, cout: int) -> int:
        n = conv_bn(cin, cout, 3, False) + conv_bn(cout, cout, 3, False)
        if cin != cout:  # first block of stages 2-4: stride 2 and a 1x1 projection shortcut
            n += conv_bn(cin, cout, 1, False)
        return n

    stages = (
        block(64, 64)
        + block(64, 64)
        + block(64, 128)
        + block(128, 128)
        + block(128, 256)
        + block(256, 256)
        + block(256, 512)
        + block(512, 512)
    )
    assert n_params(ResNet18(in_channels)) == stem + stages


def test_resnet18_param_count_matches_known_cifar_figure() -> None:
    # The widely reported CIFAR-10 ResNet-18 size is 11,173,962 parameters, including the
    # 512 -> 10 linear classifier (5,130); the trunk is the rest.
    assert n_params(ResNet18(3)) == 11_173_962 - 5_130


def test_resnet18_layer_inventory() -> None:
    m = ResNet18(3)
    convs = [c for c in m.modules() if isinstance(c, nn.Conv2d)]
    assert sum(c.kernel_size == (3, 3) for c in convs) == 17  # stem + 8 blocks x 2
    assert sum(c.kernel_size == (1, 1) for c in convs) == 3  # projections in stages 2-4
    assert sum(c.stride == (2, 2) for c in convs) == 6  # 3 x (first conv + projection)
    assert not any(isinstance(c, nn.MaxPool2d) for c in m.modules())


# ---------------------------------------------------------------- BatchNorm, init, gradients


@pytest.mark.parametrize(("name", "n_bn"), [("small-cnn", 3), ("vgg16", 13), ("resnet18", 20)])
def test_batchnorm_present(name: str, n_bn: int) -> None:
    m = build_backbone(name, 3)
    bns = [b for b in m.modules() if isinstance(b, nn.BatchNorm2d)]
    assert len(bns) == n_bn
    convs = [c for c in m.modules() if isinstance(c, nn.Conv2d)]
    assert len(convs) == n_bn  # every conv is followed by its own BatchNorm


def test_batchnorm_uses_batch_stats_in_train_and_running_stats_in_eval() -> None:
    torch.manual_seed(0)
    m = SmallCNN(1)
    x = torch.randn(8, 1, 8, 8) * 5 + 3
    bn = m.features[1]
    assert isinstance(bn, nn.BatchNorm2d)
    before = bn.running_mean.clone()
    m.train()
    m(x)
    assert not torch.equal(bn.running_mean, before)
    m.eval()
    snapshot = bn.running_mean.clone()
    m(x)
    assert torch.equal(bn.running_mean, snapshot)


def test_vgg_init() -> None:
    torch.manual_seed(0)
    m = VGG16BN(3)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            assert torch.equal(mod.weight, torch.ones_like(mod.weight))
            assert torch.equal(mod.bias, torch.zeros_like(mod.bias))
        if isinstance(mod, nn.Conv2d):
            assert torch.equal(mod.bias, torch.zeros_like(mod.bias))
    # Kaiming normal, fan_out, relu: std = sqrt(2 / (cout * 3 * 3)).
    last = [c for c in m.modules() if isinstance(c, nn.Conv2d)][-1]
    expected_std = (2.0 / (512 * 9)) ** 0.5
    assert abs(last.weight.std().item() - expected_std) / expected_std < 0.02


@pytest.mark.parametrize(("name", "size"), [("small-cnn", 8), ("vgg16", 32), ("resnet18", 32)])
def test_backward_gives_finite_gradient_for_every_parameter(name: str, size: int) -> None:
    torch.manual_seed(0)
    m = build_backbone(name, 3)
    out = m(torch.randn(2, 3, size, size))
    (out**2).mean().backward()
    for pname, p in m.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


def test_functional_call_second_order_grad_small_cnn() -> None:
    # The hypergradient differentiates through a gradient step on the trunk; make sure it can.
    torch.manual_seed(0)
    m = SmallCNN(1, width=4)
    params = dict(m.named_parameters())
    x = torch.randn(4, 1, 8, 8)
    loss = torch.func.functional_call(m, params, (x,)).pow(2).mean()
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    gnorm = sum(g.pow(2).sum() for g in grads)
    second = torch.autograd.grad(gnorm, list(params.values()), allow_unused=True)
    assert all(g is not None and torch.isfinite(g).all() for g in second)


# ---------------------------------------------------------------- registry and input errors


def test_backbone_names() -> None:
    assert BACKBONE_NAMES == ("small-cnn", "vgg16", "resnet18", "mlp")


@pytest.mark.parametrize(
    ("name", "cls"), [("small-cnn", SmallCNN), ("vgg16", VGG16BN), ("resnet18", ResNet18)]
)
def test_build_backbone_returns_fresh_instances(name: str, cls: type[nn.Module]) -> None:
    a = build_backbone(name, 1)
    b = build_backbone(name, 1)
    assert isinstance(a, cls)
    assert a is not b
    assert all(pa is not pb for pa, pb in zip(a.parameters(), b.parameters(), strict=True))
    first_conv = next(c for c in a.modules() if isinstance(c, nn.Conv2d))
    assert first_conv.in_channels == 1


def test_unknown_backbone() -> None:
    with pytest.raises(MaxlError) as info:
        build_backbone("x", 3)
    assert str(info.value) == "unknown backbone 'x'; choose one of small-cnn, vgg16, resnet18, mlp"


@pytest.mark.parametrize("in_channels", [0, -1])
def test_bad_in_channels(in_channels: int) -> None:
    with pytest.raises(MaxlError, match="in_channels"):
        build_backbone("small-cnn", in_channels)


def test_wrong_channel_count_is_a_clear_error() -> None:
    with pytest.raises(MaxlError, match="3-channel"):
        SmallCNN(3)(torch.randn(2, 1, 8, 8))


@pytest.mark.parametrize(("cls", "size"), [(SmallCNN, 3), (VGG16BN, 16)])
def test_too_small_images_are_a_clear_error(cls: type[nn.Module], size: int) -> None:
    with pytest.raises(MaxlError, match="at least"):
        cls(1)(torch.randn(2, 1, size, size))


def test_flat_input_is_a_clear_error() -> None:
    with pytest.raises(MaxlError, match=r"\[N, C, H, W\]"):
        SmallCNN(1)(torch.randn(2, 64))


def test_mlp_maps_vectors_and_flattened_images_to_features() -> None:
    torch.manual_seed(0)
    mlp = build_backbone("mlp", 12)
    assert mlp(torch.randn(5, 12)).shape == (5, mlp.feature_dim) == (5, 256)
    assert mlp(torch.randn(5, 3, 2, 2)).shape == (5, 256)  # 3·2·2 = 12 inputs
    with pytest.raises(MaxlError, match="built for 12 input features but got 10"):
        mlp(torch.randn(5, 10))
