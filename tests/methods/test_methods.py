import torch

from maxl import Hierarchy, generator_hypergradient
from maxl.methods.human import HumanLabels
from maxl.methods.maxl import MetaLabels
from maxl.methods.single import SingleTask
from maxl.models import LabelGenerator, MultiTaskNet, build_backbone


def test_single_has_no_auxiliary_targets():
    assert SingleTask().targets(torch.zeros(2, 1, 8, 8), torch.zeros(2), torch.arange(2)) is None


def test_human_targets_are_the_rows_fine_labels():
    labels = torch.tensor([4, 0, 3, 1, 2])
    targets = HumanLabels(labels).targets(None, None, torch.tensor([3, 0, 0]))
    assert targets.tolist() == [1, 4, 4]


def test_maxl_step_is_sgd_with_weight_decay_on_the_hypergradient():
    torch.manual_seed(0)
    h = Hierarchy([2, 3])
    trunk = build_backbone("small-cnn", 1)
    net = MultiTaskNet(trunk, trunk.feature_dim, 2, h.num_aux)
    generator = LabelGenerator(build_backbone("small-cnn", 1), trunk.feature_dim, h)
    x, y = torch.randn(6, 1, 8, 8), torch.tensor([0, 1, 1, 0, 1, 0])
    lr, wd = 0.5, 0.1
    optimizer = torch.optim.SGD(generator.parameters(), lr=lr, weight_decay=wd)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    method = MetaLabels(
        generator,
        optimizer,
        scheduler,
        hypergrad="exact",
        entropy_weight=0.2,
        aux_weight=1.0,
        focal_gamma=2.0,
    )
    before = [p.detach().clone() for p in generator.parameters()]
    grads = generator_hypergradient(net, generator, x, y, inner_lr=0.01)
    method.after_step(net, x, y, lr=0.01)
    for p, old, g in zip(generator.parameters(), before, grads, strict=True):
        assert torch.allclose(p, old - lr * (g + wd * old), atol=1e-6)
        assert p.grad is None
    method.end_epoch()
    assert optimizer.param_groups[0]["lr"] == lr / 2

    targets = method.targets(x, y, torch.arange(6))
    assert not targets.requires_grad
    assert torch.all(targets[~h.mask(y)] == 0)
    assert torch.allclose(targets.sum(dim=1), torch.ones(6))
