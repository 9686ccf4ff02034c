"""Gaussian-mixture latents of GM-GAN (Ben-Yosef & Weinshall, 2018) and DeLiGAN.

``p(z) = sum_k alpha_k N(z; mu_k, Sigma_k)``. Two variants:

- **static**: ``mu_k ~ U[-c, c]^d`` drawn once from ``seed`` and ``Sigma_k = sigma * I``; nothing is
  learned, the means are buffers (saved with the model, so a loaded model samples the same mixture).
- **dynamic**: ``z = A_k eps + mu_k`` with ``eps ~ N(0, I)``; ``mu_k`` and ``A_k`` are parameters
  learned with the generator (``Sigma_k = A_k A_k^T``). ``diagonal=True`` learns a diagonal ``A_k``.

DeLiGAN (Gurumurthy et al., 2017) is the dynamic, diagonal case with its own settings
(:data:`DELIGAN_SETTINGS`): means initialised from U[-1, 1], standard deviations from 0.2 (so
``sigma = 0.04``), and a penalty that keeps the learned standard deviations from shrinking to zero
(:meth:`GaussianMixturePrior.std_penalty`, DeLiGAN's ``sum (1 - sigma)^2``).

The mixture weights ``alpha_k`` may be non-uniform (condition C3 of paper 000: the data's cluster
priors). ``scale`` is GM-GAN's quality-diversity knob: sampling ``z | k ~ N(mu_k, s * Sigma_k)``; s < 1
trades diversity for quality after training. It is a sampling-time setting (``sample(..., scale=s)``
or the ``scale`` attribute), never trained.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..errors import GanclusterError
from .base import LatentPrior, check_priors

#: DeLiGAN's settings for :class:`GaussianMixturePrior` (dynamic, diagonal A_k; std init 0.2).
DELIGAN_SETTINGS = {"c": 1.0, "sigma": 0.04, "learnable": True, "diagonal": True}


def check_scale(scale: float) -> float:
    """The quality-diversity knob s must be a positive finite number."""
    try:
        s = float(scale)
    except (TypeError, ValueError) as exc:
        raise GanclusterError(f"scale s must be a positive number, got {scale!r}") from exc
    if not math.isfinite(s) or s <= 0:
        raise GanclusterError(f"scale s must be > 0 (s < 1: higher quality, lower diversity), got {scale!r}")
    return s


class GaussianMixturePrior(LatentPrior):
    """GM-GAN's latent: a mixture of K Gaussians in ``dim`` dimensions (see the module doc).

    ``c``: half-width of the cube the means are drawn from; ``sigma``: the isotropic variance of each
    component (``Sigma_k = sigma * I``, the dynamic variant's initial value); ``weights``: the
    mixture weights (None = uniform); ``seed``: the draw of the means (static and initial dynamic).
    """

    def __init__(
        self,
        n_modes: int,
        dim: int,
        c: float = 1.0,
        sigma: float = 1.0,
        weights: Sequence[float] | Tensor | None = None,
        learnable: bool = False,
        diagonal: bool = False,
        seed: int = 0,
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        if isinstance(n_modes, bool) or not isinstance(n_modes, int) or n_modes < 1:
            raise GanclusterError(f"the number of Gaussians K must be an integer >= 1, got {n_modes!r}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise GanclusterError(f"latent dim must be an integer >= 1, got {dim!r}")
        if not (isinstance(c, (int, float)) and math.isfinite(c) and c >= 0):
            raise GanclusterError(f"c (means drawn from U[-c, c]) must be a finite number >= 0, got {c!r}")
        if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
            raise GanclusterError(f"sigma (Sigma_k = sigma * I) must be > 0, got {sigma!r}")
        self.n_modes, self.dim = n_modes, dim
        self.c, self.sigma = float(c), float(sigma)
        self.learnable, self.diagonal = bool(learnable), bool(diagonal)
        self.seed = int(seed)
        self.scale = check_scale(scale)
        self.register_buffer("weights", check_priors(weights, n_modes))
        gen = torch.Generator().manual_seed(self.seed)
        means = (2 * torch.rand(n_modes, dim, generator=gen) - 1) * self.c
        std = math.sqrt(self.sigma)
        if self.learnable:
            self.means = nn.Parameter(means)
            if self.diagonal:
                self.A = nn.Parameter(torch.full((n_modes, dim), std))
            else:
                self.A = nn.Parameter(std * torch.eye(dim).expand(n_modes, dim, dim).clone())
        else:
            self.register_buffer("means", means)
            self.A = None

    # ---- description -----------------------------------------------------------------------------
    def mode_weights(self) -> Tensor:
        return self.weights

    def extra_repr(self) -> str:
        kind = "dynamic" if self.learnable else "static"
        return f"K={self.n_modes}, dim={self.dim}, c={self.c}, sigma={self.sigma}, {kind}, scale={self.scale}"

    def factors(self) -> Tensor:
        """``A_k`` as (K, d, d) matrices, ``Sigma_k = A_k A_k^T`` (static: ``sqrt(sigma) I``)."""
        dev = self.means.device
        if self.A is None:
            eye = torch.eye(self.dim, device=dev) * math.sqrt(self.sigma)
            return eye.expand(self.n_modes, self.dim, self.dim)
        if self.diagonal:
            return torch.diag_embed(self.A)
        return self.A

    def covariances(self) -> Tensor:
        """``Sigma_k`` (K, d, d)."""
        a = self.factors()
        return a @ a.transpose(1, 2)

    def std_penalty(self) -> Tensor:
        """DeLiGAN's regulariser ``sum_k,i (1 - sigma_k,i)^2`` on learned per-axis scales (0 if static)."""
        if self.A is None:
            return self.means.new_zeros(())
        diag = self.A if self.diagonal else torch.diagonal(self.A, dim1=1, dim2=2)
        return ((1.0 - diag.abs()) ** 2).sum()

    # ---- sampling --------------------------------------------------------------------------------
    def transform(self, eps: Tensor, modes: Tensor, scale: float | None = None) -> Tensor:
        """``z = mu_k + sqrt(s) A_k eps``: the reparametrisation (differentiable in ``mu``, ``A``)."""
        s = self.scale if scale is None else check_scale(scale)
        mu = self.means[modes]
        if self.A is None:
            dev = math.sqrt(self.sigma) * eps
        elif self.diagonal:
            dev = self.A[modes] * eps
        else:
            dev = torch.bmm(self.A[modes], eps.unsqueeze(2)).squeeze(2)
        return mu + math.sqrt(s) * dev

    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        modes: Tensor | None = None,
        scale: float | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``n`` latents and their Gaussian index; ``scale`` overrides the knob s for this call."""
        device = self.weights.device
        if modes is None:
            modes = self.sample_modes(n, generator)
        modes = modes.to(device)
        if modes.numel() and (int(modes.min()) < 0 or int(modes.max()) >= self.n_modes):
            raise GanclusterError(f"modes must lie in [0, {self.n_modes - 1}]")
        eps = torch.randn(n, self.dim, generator=generator, device=device)
        return self.transform(eps, modes, scale), modes

    def log_prob_components(self, z: Tensor) -> Tensor:
        """``log alpha_k + log N(z; mu_k, Sigma_k)`` for every row and component (N, K)."""
        cov = self.covariances().to(z.dtype)
        dist = torch.distributions.MultivariateNormal(self.means.to(z.dtype), covariance_matrix=cov)
        return dist.log_prob(z.unsqueeze(1)) + self.weights.log()
