"""Adversarial losses as small pure functions of discriminator outputs.

Each ``d_*`` returns the discriminator's loss, each ``g_*`` the generator's. ``ADVERSARIAL`` maps a
loss name to that pair so a method picks its loss by config.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def d_nonsaturating(real: Tensor, fake: Tensor) -> Tensor:
    """-log D(x) - log(1 - D(G(z))) on logits."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def g_nonsaturating(fake: Tensor) -> Tensor:
    """-log D(G(z)): the generator loss that does not saturate early in training."""
    return F.softplus(-fake).mean()


def d_wasserstein(real: Tensor, fake: Tensor) -> Tensor:
    return fake.mean() - real.mean()


def g_wasserstein(fake: Tensor) -> Tensor:
    return -fake.mean()


def d_hinge(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def g_hinge(fake: Tensor) -> Tensor:
    return -fake.mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """WGAN-GP: mean (||grad D(x_hat)|| - 1)^2 on random interpolates of real and fake.

    Always in float32, also under mixed precision: the penalty differentiates D's gradient, which
    half precision rounds too coarsely.
    """
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    real, fake = real.detach().float(), fake.detach().float()
    with torch.autocast(device_type=real.device.type, enabled=False):
        eps = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        out = critic(x_hat).float()
        (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
        return ((grad.flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()


ADVERSARIAL: dict[str, tuple[Callable[[Tensor, Tensor], Tensor], Callable[[Tensor], Tensor]]] = {
    "wgan-gp": (d_wasserstein, g_wasserstein),
    "ns": (d_nonsaturating, g_nonsaturating),
    "hinge": (d_hinge, g_hinge),
}


def kl_to_priors(probs: Tensor, priors: Tensor) -> Tensor:
    """KL(batch mean of cluster probabilities || priors): the C3 prior-matching term."""
    mean = probs.mean(0).clamp_min(1e-8)
    return (mean * (mean.log() - priors.clamp_min(1e-8).log())).sum()


def entropy(probs: Tensor) -> Tensor:
    """Mean per-sample entropy of cluster probabilities."""
    return -(probs * probs.clamp_min(1e-8).log()).sum(1).mean()


def neighbour_agreement(p_anchor: Tensor, p_neighbour: Tensor) -> Tensor:
    """SCAN's consistency term: ``-log <p(x), p(x_nn)>``, low when a sample and its neighbour share a cluster."""
    return -(p_anchor * p_neighbour).sum(1).clamp_min(1e-8).log().mean()


def balanced_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """Cross-entropy where each target class present counts the same (SCAN's self-labelling weights).

    A weighted mean with weights 1 / count of the row's class, so a large cluster's many confident
    samples do not outvote a small one's few.
    """
    counts = torch.bincount(target, minlength=logits.shape[1]).to(logits.dtype)
    return F.cross_entropy(logits, target, weight=counts.clamp_min(1).reciprocal())


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)
