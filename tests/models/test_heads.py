import torch

from maxl import Hierarchy
from maxl.assembly.backbones import build_backbone
from maxl.models import LabelGenerator, MultiTaskNet


def test_multitask_net_gives_both_heads_from_one_trunk():
    trunk = build_backbone("small-cnn", 3)
    net = MultiTaskNet(trunk, trunk.feature_dim, num_primary=4, num_aux=9)
    x = torch.randn(5, 3, 12, 12)
    primary, aux = net.eval()(x)
    assert primary.shape == (5, 4) and aux.shape == (5, 9)
    features = trunk(x)
    assert torch.allclose(primary, features @ net.primary_head.weight.T + net.primary_head.bias)
    assert torch.allclose(aux, features @ net.aux_head.weight.T + net.aux_head.bias)


def test_generator_puts_all_mass_in_the_label_block():
    h = Hierarchy([1, 3, 2])
    trunk = build_backbone("small-cnn", 1)
    generator = LabelGenerator(trunk, trunk.feature_dim, h)
    y = torch.tensor([0, 1, 2, 1])
    probs = generator(torch.randn(4, 1, 8, 8), y)
    assert probs.shape == (4, 6)
    assert torch.all(probs[~h.mask(y)] == 0)
    assert torch.allclose(probs.sum(dim=1), torch.ones(4))
    assert probs[0, 0].item() == 1.0  # a block of one is a one-hot
