"""Latent priors: where a generator's input comes from, and which mode (cluster) it belongs to.

Every prior samples ``(z, mode_ids)`` from an explicit ``torch.Generator`` and exposes its mode
masses as a tensor (condition C3), so any method can use any prior. One module per family.
"""

from __future__ import annotations

from .base import GaussianPrior, LatentPrior, OneHotGaussianPrior, check_priors

__all__ = ["GaussianPrior", "LatentPrior", "OneHotGaussianPrior", "check_priors"]
