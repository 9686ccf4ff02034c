"""Latent priors: where a generator's input comes from, and which mode (cluster) it belongs to.

Condition C1 of paper 000 asks for a multimodal latent; C3 asks that mode masses match the data's
cluster priors. Every prior here therefore samples ``(z, mode_ids)`` from an explicit
``torch.Generator`` and carries its mode weights as a tensor, so any method can use any prior.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..errors import GanclusterError


def check_priors(priors: Sequence[float] | Tensor | None, n_clusters: int) -> Tensor:
    """Validate cluster priors (None -> uniform) and return them as a float tensor."""
    if priors is None:
        return torch.full((n_clusters,), 1.0 / n_clusters)
    p = torch.as_tensor(priors, dtype=torch.float64).flatten()
    if p.numel() != n_clusters:
        raise GanclusterError(
            f"priors has {p.numel()} values but n_clusters={n_clusters}; give one prior per cluster"
        )
    if not torch.isfinite(p).all() or (p < 0).any():
        raise GanclusterError(f"priors must be finite and non-negative, got {p.tolist()}")
    if (p == 0).any():
        raise GanclusterError(
            f"priors must be positive (a zero prior means a cluster that is never generated): {p.tolist()}"
        )
    if abs(float(p.sum()) - 1.0) > 1e-3:
        raise GanclusterError(f"priors must sum to 1, they sum to {float(p.sum()):.6g}: {p.tolist()}")
    return (p / p.sum()).float()


class LatentPrior(nn.Module):
    """Base class. ``dim`` is the latent size, ``n_modes`` the number of discrete modes."""

    dim: int
    n_modes: int

    def mode_weights(self) -> Tensor:
        """Mass of each mode (sums to 1)."""
        raise NotImplementedError

    def sample_modes(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        w = self.mode_weights().detach()
        return torch.multinomial(w, n, replacement=True, generator=generator)

    def sample(
        self, n: int, generator: torch.Generator | None = None, modes: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Return latents ``z`` (n, dim) and their mode ids (n,); ``modes`` fixes the modes."""
        raise NotImplementedError


class GaussianPrior(LatentPrior):
    """Standard normal latent of a plain GAN: a single mode."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim < 1:
            raise GanclusterError(f"latent dim must be >= 1, got {dim}")
        self.dim = dim
        self.n_modes = 1
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def mode_weights(self) -> Tensor:
        return torch.ones(1, device=self._anchor.device)

    def sample(self, n, generator=None, modes=None):
        z = torch.randn(n, self.dim, generator=generator, device=self._anchor.device)
        return z, torch.zeros(n, dtype=torch.long, device=z.device)


class OneHotGaussianPrior(LatentPrior):
    """ClusterGAN's latent: ``z = [z_n, z_c]``, ``z_n ~ N(0, sigma^2 I)``, ``z_c`` an exact one-hot.

    The official code uses sigma = 0.1; larger sigma blurs clusters together (REFERENCE.md).
    ``weights`` are the cluster priors (uniform in the paper; C3 asks for the data's priors).
    """

    def __init__(
        self, n_modes: int, noise_dim: int, sigma: float = 0.1, weights: Sequence[float] | None = None
    ) -> None:
        super().__init__()
        if n_modes < 1 or noise_dim < 1:
            raise GanclusterError(f"need n_modes >= 1 and noise_dim >= 1, got {n_modes}, {noise_dim}")
        if not sigma > 0:
            raise GanclusterError(f"sigma must be > 0, got {sigma}")
        self.n_modes = n_modes
        self.noise_dim = noise_dim
        self.dim = noise_dim + n_modes
        self.sigma = float(sigma)
        self.register_buffer("weights", check_priors(weights, n_modes))

    def mode_weights(self) -> Tensor:
        return self.weights

    def sample(self, n, generator=None, modes=None):
        device = self.weights.device
        if modes is None:
            modes = self.sample_modes(n, generator)
        modes = modes.to(device)
        z_n = self.sigma * torch.randn(n, self.noise_dim, generator=generator, device=device)
        z_c = nn.functional.one_hot(modes, self.n_modes).to(z_n.dtype)
        return torch.cat([z_n, z_c], dim=1), modes

    def split(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Split a latent into its continuous and one-hot parts."""
        return z[:, : self.noise_dim], z[:, self.noise_dim :]
