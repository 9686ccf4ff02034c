"""NEMGAN's additive multimodal latent ``z = y + nu`` with learnable mode masses (paper 000, eq. 1-2).

``y`` is a one-hot of ``n_modes`` drawn by reparameterising a uniform ``u ~ U(0, 1)`` through a
vector ``alpha``: with ``a = cumsum(softmax(alpha))`` the mode is the bucket of ``u`` among the
``a_j`` (a step function of ``u``), so ``P(y = i) = softmax(alpha)_i`` exactly (Lemma 2). ``nu`` is
uniform noise ``U(-noise, noise)`` on every latent coordinate; with ``noise < 0.5`` the boxes around
the one-hot vertices never touch, so the modes of ``z`` are disjoint (condition C1).

The step is not differentiable in ``alpha``; :meth:`AdditivePrior.rsample` also returns a relaxed
one-hot built from the same ``u`` with the unit step replaced by a sigmoid of temperature ``tau``
(the authors' "smoothed step", REFERENCE.md), so a loss on the mode masses of a batch reaches
``alpha``. ``alpha`` is a parameter either way; it only trains when ``learnable`` is set.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import GanclusterError
from .base import LatentPrior, check_priors


def step_buckets(u: Tensor, cumulative: Tensor) -> Tensor:
    """Mode of each ``u``: the first ``i`` with ``u < a_i`` (eq. 1 with the exact unit step)."""
    modes = torch.searchsorted(cumulative.detach().contiguous(), u.contiguous(), right=True)
    return modes.clamp_max(cumulative.numel() - 1)


def smoothed_onehot(u: Tensor, cumulative: Tensor, tau: float) -> Tensor:
    """Eq. 1 with ``sigma_h(t) = sigmoid(t / tau)``: ``f_i = s(a_i - u) - s(a_{i-1} - u)``, ``f_0 = s(a_0 - u)``.

    Rows sum to ``s(a_{M-1} - u) = s(1 - u)``, about 1; as ``tau -> 0`` a row tends to the exact
    one-hot of :func:`step_buckets`. Differentiable in ``cumulative`` (hence in ``alpha``).
    """
    s = torch.sigmoid((cumulative.unsqueeze(0) - u.unsqueeze(1)) / tau)
    return torch.cat([s[:, :1], s[:, 1:] - s[:, :-1]], dim=1)


class AdditivePrior(LatentPrior):
    """``z = [0 ... 0, onehot(y)] + U(-noise, noise)^dim`` with ``P(y = i) = softmax(alpha)_i``.

    ``dim`` is the whole latent size (the one-hot occupies its last ``n_modes`` coordinates; the
    authors use 50). ``weights`` set ``alpha = log(weights)`` (None: uniform, as the authors'
    ``alpha = ones``); ``learnable`` lets an optimizer move ``alpha`` (prior learning, eq. 5).
    ``n_modes = 1`` gives the unimodal latent of a model without condition C1.
    """

    def __init__(
        self,
        n_modes: int,
        dim: int = 50,
        noise: float = 0.3,
        weights: Sequence[float] | Tensor | None = None,
        learnable: bool = False,
        temperature: float = 0.01,
    ) -> None:
        super().__init__()
        if isinstance(n_modes, bool) or not isinstance(n_modes, int) or n_modes < 1:
            raise GanclusterError(f"n_modes must be an integer >= 1, got {n_modes!r}")
        if dim < n_modes:
            raise GanclusterError(f"latent dim ({dim}) must be >= n_modes ({n_modes}): the one-hot lives inside z")
        if not 0 < noise < 0.5:
            raise GanclusterError(
                f"noise must be in (0, 0.5) so that the modes of z stay disjoint, got {noise}; the authors use 0.3"
            )
        if not temperature > 0:
            raise GanclusterError(f"temperature of the smoothed step must be > 0, got {temperature}")
        self.n_modes = n_modes
        self.dim = int(dim)
        self.noise = float(noise)
        self.temperature = float(temperature)
        self.alpha = nn.Parameter(check_priors(weights, n_modes).log(), requires_grad=bool(learnable))

    @property
    def learnable(self) -> bool:
        return self.alpha.requires_grad

    def mode_weights(self) -> Tensor:
        """``softmax(alpha)``: the mode masses (Lemma 2). Carries gradients when ``alpha`` is learnable."""
        return torch.softmax(self.alpha, dim=0)

    def set_weights(self, weights: Sequence[float] | Tensor) -> None:
        """Fix the mode masses to ``weights`` (validated like user priors)."""
        with torch.no_grad():
            self.alpha.copy_(check_priors(weights, self.n_modes).log().to(self.alpha.device))

    def embed(self, onehot: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``z = [0, onehot] + nu``: place the (possibly relaxed) one-hot and add the uniform noise."""
        n = onehot.shape[0]
        nu = (2 * torch.rand(n, self.dim, generator=generator, device=onehot.device) - 1) * self.noise
        pad = onehot.new_zeros(n, self.dim - self.n_modes)
        return torch.cat([pad, onehot], dim=1) + nu

    def rsample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``(z, y, modes)`` where ``y`` is the exact one-hot in value with the smoothed step's gradient.

        ``modes`` are the exact buckets (Lemma 2); ``y = onehot + soft - soft.detach()`` (straight
        through) so ``z`` is exactly what :meth:`sample` would give, yet ``d y / d alpha`` exists.
        """
        u = torch.rand(n, generator=generator, device=self.alpha.device)
        cumulative = torch.cumsum(self.mode_weights(), dim=0)
        modes = step_buckets(u, cumulative)
        hard = F.one_hot(modes, self.n_modes).to(u.dtype)
        soft = smoothed_onehot(u, cumulative, self.temperature)
        y = hard + soft - soft.detach()
        return self.embed(y, generator), y, modes

    def sample(self, n, generator=None, modes=None):
        with torch.no_grad():
            if modes is None:
                u = torch.rand(n, generator=generator, device=self.alpha.device)
                modes = step_buckets(u, torch.cumsum(self.mode_weights(), dim=0))
            else:
                modes = torch.as_tensor(modes, device=self.alpha.device).long()
                if modes.numel() and (modes.min() < 0 or modes.max() >= self.n_modes):
                    raise GanclusterError(
                        f"this latent has {self.n_modes} mode(s), so modes must lie in [0, {self.n_modes - 1}]"
                        + ("; a one-mode latent (no C1) cannot generate a chosen cluster" if self.n_modes == 1 else "")
                    )
            z = self.embed(F.one_hot(modes, self.n_modes).float(), generator)
        return z, modes

    def mode_of(self, z: Tensor) -> Tensor:
        """The mode a latent belongs to (its one-hot coordinate above 0.5); exact because modes are disjoint."""
        return z[:, self.dim - self.n_modes :].argmax(1)

    def split(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """The noise-only coordinates and the coordinates that carry the one-hot."""
        return z[:, : self.dim - self.n_modes], z[:, self.dim - self.n_modes :]
