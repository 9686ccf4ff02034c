"""Latent priors: where a generator's input comes from, and which mode (cluster) it belongs to.

Every prior samples ``(z, mode_ids)`` from an explicit ``torch.Generator`` and exposes its mode
masses as a tensor (condition C3), so any method can use any prior. One module per family.
"""

from __future__ import annotations

from .additive import AdditivePrior
from .base import GaussianPrior, LatentPrior, OneHotGaussianPrior, check_priors
from .mixture import DELIGAN_SETTINGS, GaussianMixturePrior, check_scale

__all__ = [
    "DELIGAN_SETTINGS",
    "AdditivePrior",
    "GaussianMixturePrior",
    "GaussianPrior",
    "LatentPrior",
    "OneHotGaussianPrior",
    "check_priors",
    "check_scale",
]
