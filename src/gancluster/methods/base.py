"""What the trainer needs from a method.

A method is an ``nn.Module`` that owns its prior, networks and optimizers and knows how to take one
training step. Everything the trainer checkpoints is in ``state_dict()`` and ``optimizers``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from ..losses import gradient_penalty
from ..priors import LatentPrior



class Batch(NamedTuple):
    """A batch of real data, its row indices, and the tensor it was drawn from."""

    x: Tensor
    index: Tensor
    source: Tensor


BatchFn = Callable[[], Batch]
#: one critic pass over real and fake together when the critic has no batch statistics (see train_critic)
JOINT_CRITIC_PASS = True
#: discriminator loss of one real batch: (batch, D(real), D(fake)) -> scalar
CriticLoss = Callable[[Batch, Tensor, Tensor], Tensor]


def sees_real_and_fake_jointly(critic: nn.Module) -> bool:
    """Whether one pass over real and fake together computes the same as two (no batch statistics).

    A spectral-normalised critic is still passed jointly: its power iteration then advances once per
    critic step instead of twice, which changes how fast the norm estimate is refreshed, not the loss.
    """
    return JOINT_CRITIC_PASS and not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())


class ConditionalCritic(NamedTuple):
    """A critic told each sample's cluster: ``score(x, clusters)``, and the clusters of real data.

    Fakes carry the latent mode they were drawn from. (NEMGAN's recipe: a projection discriminator
    on the inverter's clusters of real data.)
    """

    score: Callable[[Tensor, Tensor], Tensor]
    real_clusters: Callable[[Tensor], Tensor]


def train_critic(
    method: "Method", next_batch: BatchFn, rng: torch.Generator, n_critic: int, loss_fn: CriticLoss,
    gp_weight: float = 0.0, conditional: ConditionalCritic | None = None,
) -> tuple[Batch, float]:
    """``n_critic`` updates of ``method.discriminator`` on real batches vs fakes from the prior.

    The shared critic phase of the methods with one discriminator; adds a gradient penalty when
    ``gp_weight`` > 0 (unconditional critics only). Everything ``method.optimizers["d"]`` updates is
    trained here and frozen again for the generator step; returns the last real batch and the last
    D loss. A critic without batch statistics sees real and fake in one pass (the same function of
    each sample, about 5% cheaper per training step on CPU than two passes).
    """
    G, D, opt = method.generator_net, method.discriminator, method.optimizers["d"]
    if conditional is not None and gp_weight > 0:
        raise ValueError("a conditional critic is trained without gradient penalty")
    score = (lambda x, _clusters: D(x)) if conditional is None else conditional.score
    params = [p for group in opt.param_groups for p in group["params"]]
    joint = sees_real_and_fake_jointly(D)
    for p in params:
        p.requires_grad_(True)
    for _ in range(n_critic):
        batch = next_batch()
        with torch.no_grad():
            z, fake_clusters = method.prior.sample(batch.x.shape[0], rng)
            fake = G(z)
            real_clusters = None if conditional is None else conditional.real_clusters(batch.x)
        if joint:
            clusters = None if real_clusters is None else torch.cat([real_clusters, fake_clusters])
            d_real, d_fake = score(torch.cat([batch.x, fake]), clusters).split([batch.x.shape[0], fake.shape[0]])
        else:
            d_real, d_fake = score(batch.x, real_clusters), score(fake, fake_clusters)
        d_loss = loss_fn(batch, d_real, d_fake)
        if gp_weight > 0:
            d_loss = d_loss + gp_weight * gradient_penalty(D, batch.x, fake, rng)
        opt.zero_grad(set_to_none=True)
        d_loss.backward()
        opt.step()
    for p in params:
        p.requires_grad_(False)
    return batch, float(d_loss.detach())


class Method(nn.Module):
    """Base class for ClusterGAN, NEMGAN, GM-GAN, PGMGAN, ..."""

    name: ClassVar[str] = "method"
    prior: LatentPrior
    generator_net: nn.Module
    optimizers: dict[str, torch.optim.Optimizer]
    #: share of the run's budget used so far: steps over ``max_steps`` or seconds over ``max_seconds``,
    #: whichever is larger (set by the Trainer before each step), so that a method can cap a phase,
    #: e.g. a warm-up, at part of the run
    budget_used: float = 0.0

    def prepare(self, data: Tensor) -> None:
        """Called once with the whole training tensor before the first step (e.g. to build a k-NN graph)."""

    def train_step(self, next_batch: BatchFn, rng: torch.Generator) -> dict[str, float]:
        """One generator update (and the critic updates before it). Returns scalar logs."""
        raise NotImplementedError

    def cluster_logits(self, x: Tensor) -> Tensor:
        """Unnormalised cluster scores of data ``x`` (N, K)."""
        raise NotImplementedError

    def embed(self, x: Tensor) -> Tensor:
        """The latent representation of data ``x`` used by ``transform``."""
        raise NotImplementedError

    @torch.no_grad()
    def generate(
        self, n: int, rng: torch.Generator | None = None, modes: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        z, k = self.prior.sample(n, rng, modes)
        return self.generator_net(z), k

    @torch.no_grad()
    def interpolate(self, n_rows: int, steps: int = 8, seed: int = 0) -> Tensor:
        """Generated strips ``(n_rows, steps, ...)`` walking the latent from mode i to mode i + 1.

        A smooth strip shows a continuous latent; an abrupt change shows where clusters separate.
        """
        device = next(self.parameters()).device
        rng = torch.Generator(device=device).manual_seed(seed)
        k = max(1, self.prior.n_modes)
        start = torch.arange(n_rows, device=device) % k
        z_a, _ = self.prior.sample(n_rows, rng, start)
        z_b, _ = self.prior.sample(n_rows, rng, (start + 1) % k)
        t = torch.linspace(0, 1, steps, device=device).view(1, steps, 1)
        z = (1 - t) * z_a[:, None] + t * z_b[:, None]
        x = self.generator_net(z.flatten(0, 1))
        return x.view(n_rows, steps, *x.shape[1:])

    def lr_scale(self, factor: float) -> None:
        """Multiply every learning rate by ``factor`` (used by the divergence guard)."""
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] *= factor

    def settings_dict(self) -> dict[str, Any]:
        raise NotImplementedError
