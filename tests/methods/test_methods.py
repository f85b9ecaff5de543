import torch

from maxl import Hierarchy, focal_loss, generator_hypergradient
from maxl.assembly.backbones import build_backbone
from maxl.labeler import MetaLabeler
from maxl.methods.human import HumanLabels
from maxl.methods.maxl import LearnedLabels
from maxl.methods.single import SingleTask
from maxl.models import LabelGenerator, MultiTaskNet


def test_single_has_no_auxiliary_targets():
    assert SingleTask().targets(torch.zeros(2, 1, 8, 8), torch.zeros(2), torch.arange(2)) is None


def test_human_targets_are_the_rows_fine_labels():
    labels = torch.tensor([4, 0, 3, 1, 2])
    targets = HumanLabels(labels).targets(None, None, torch.tensor([3, 0, 0]))
    assert targets.tolist() == [1, 4, 4]


def make_maxl(h: Hierarchy, *, lr: float, wd: float, meta_every: int = 1):
    torch.manual_seed(0)
    trunk = build_backbone("small-cnn", 1)
    net = MultiTaskNet(trunk, trunk.feature_dim, h.num_primary, h.num_aux)
    generator = LabelGenerator(build_backbone("small-cnn", 1), trunk.feature_dim, h)
    optimizer = torch.optim.SGD(generator.parameters(), lr=lr, weight_decay=wd)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    labeler = MetaLabeler(generator, optimizer, "exact", 0.2, meta_every=meta_every)
    method = LearnedLabels(labeler, scheduler, schedule="batches")
    return net, generator, method


def multitask_backward(net, method, x, y):
    """What the engine does before the optimiser step: targets, L_train, backward."""
    targets = method.targets(x, y, torch.arange(len(x)))
    primary_logits, aux_logits = net(x)
    loss = focal_loss(primary_logits, y) + focal_loss(aux_logits, targets)
    net.zero_grad()
    loss.backward()
    return targets


def test_maxl_step_is_sgd_with_weight_decay_on_the_standalone_hypergradient():
    h = Hierarchy([2, 3])
    lr, wd, inner_lr = 0.5, 0.1, 0.01
    net, generator, method = make_maxl(h, lr=lr, wd=wd)
    x, y = torch.randn(6, 1, 8, 8), torch.tensor([0, 1, 1, 0, 1, 0])
    before = [p.detach().clone() for p in generator.parameters()]
    grads = generator_hypergradient(net, generator, x, y, inner_lr=inner_lr)
    targets = multitask_backward(net, method, x, y)
    method.before_update(net, x, y, lr=inner_lr)
    for p, old, g in zip(generator.parameters(), before, grads, strict=True):
        assert torch.allclose(p, old - lr * (g + wd * old), atol=1e-6)
        assert p.grad is None
    method.end_epoch()
    assert optimizer_lr(method) == lr / 2
    assert not targets.requires_grad
    assert torch.all(targets[~h.mask(y)] == 0)
    assert torch.allclose(targets.sum(dim=1), torch.ones(6))


def optimizer_lr(method: LearnedLabels) -> float:
    return method.optimizer.param_groups[0]["lr"]


def test_meta_every_k_steps_the_generator_on_every_kth_iteration_only():
    h = Hierarchy([2, 3])
    net, generator, method = make_maxl(h, lr=0.5, wd=0.0, meta_every=3)
    x, y = torch.randn(6, 1, 8, 8), torch.tensor([0, 1, 1, 0, 1, 0])
    changed = []
    for _ in range(6):
        before = [p.detach().clone() for p in generator.parameters()]
        multitask_backward(net, method, x, y)
        method.before_update(net, x, y, lr=0.01)
        now = list(generator.parameters())
        changed.append(any(not torch.equal(p, b) for p, b in zip(now, before, strict=True)))
    assert changed == [True, False, False, True, False, False]
