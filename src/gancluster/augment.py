"""Label-preserving augmentations as tensor ops (CPU and GPU alike, no torchvision).

Used by recipes that train the inverter on real data with a consistency term: two views of the
same image should fall in the same cluster.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def random_affine(
    x: Tensor,
    generator: torch.Generator | None = None,
    max_shift: float = 0.12,
    max_rotate_deg: float = 12.0,
    scale_range: tuple[float, float] = (0.9, 1.1),
) -> Tensor:
    """Small random shifts, rotations and zooms of a batch of images (N, C, H, W)."""
    n = x.shape[0]
    dev, dt = x.device, x.dtype

    def uniform(lo: float, hi: float) -> Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=generator, device=dev, dtype=dt)

    angle = uniform(-max_rotate_deg, max_rotate_deg) * (math.pi / 180.0)
    scale = uniform(*scale_range)
    tx, ty = uniform(-max_shift, max_shift) * 2, uniform(-max_shift, max_shift) * 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def gaussian_jitter(x: Tensor, generator: torch.Generator | None = None, std: float = 0.1) -> Tensor:
    """Additive noise for standardised vectors."""
    return x + std * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def augment(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """The default view for a batch: affine for images, jitter for vectors."""
    if x.dim() == 4 and x.shape[-1] >= 8:
        return random_affine(x, generator)
    return gaussian_jitter(x, generator)
