"""Representations the partitioner's k-NN graph is built on (paper 003, "Learning representations").

Images: a SimCLR pretext (NT-Xent, temperature 0.1, 128-d MLP head) trained on two augmented views
of each image; augmentations are tensor ops that run on CPU and GPU (random resized crop through an
affine grid, scale in [0.2, 1], small rotation, brightness/contrast jitter per image, grey-scale for
colour images). The pretext body is the partitioner's own body, so the partitioner starts from it
(paper: ``S_init(x) = softmax(W_0 phi_0(x))``).

Low-dimensional vectors: the raw (standardised) features, as the paper does for its 2-D data.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import require
from .lipschitz import Partitioner


@dataclass
class PretextSettings:
    """SimCLR pretext. ``steps`` of Adam on ``batch_size`` images (two views each)."""

    steps: int = 300
    batch_size: int = 256
    lr: float = 1e-3
    temperature: float = 0.1
    proj_dim: int = 128
    crop_scale: tuple[float, float] = (0.2, 1.0)
    jitter: float = 0.4

    def validate(self) -> None:
        require(self.steps >= 0, f"pretext steps must be >= 0, got {self.steps}")
        require(self.batch_size >= 2, f"pretext batch_size must be >= 2, got {self.batch_size}")
        require(self.lr > 0 and self.temperature > 0, "pretext lr and temperature must be > 0")
        require(0 < self.crop_scale[0] <= self.crop_scale[1] <= 1, f"crop_scale must satisfy 0 < lo <= hi <= 1, got {self.crop_scale}")


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator | None, like: Tensor) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=like.device, dtype=like.dtype)


def random_resized_crop(x: Tensor, gen: torch.Generator | None, scale: tuple[float, float] = (0.2, 1.0),
                        max_rotate_deg: float = 10.0) -> Tensor:
    """Crop a random area share in ``scale`` (aspect 3/4..4/3) at a random place, resized back, via ``affine_grid``."""
    n = x.shape[0]
    area = _uniform(n, *scale, gen, x)
    log_ratio = _uniform(n, math.log(3 / 4), math.log(4 / 3), gen, x)
    ratio = log_ratio.exp()
    sx = (area * ratio).sqrt().clamp(max=1.0)  # crop width / image width
    sy = (area / ratio).sqrt().clamp(max=1.0)
    tx = (1 - sx) * _uniform(n, -1.0, 1.0, gen, x)
    ty = (1 - sy) * _uniform(n, -1.0, 1.0, gen, x)
    ang = _uniform(n, -max_rotate_deg, max_rotate_deg, gen, x) * (math.pi / 180)
    cos, sin = torch.cos(ang), torch.sin(ang)
    theta = torch.stack([torch.stack([sx * cos, -sy * sin, tx], 1), torch.stack([sx * sin, sy * cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def colour_jitter(x: Tensor, gen: torch.Generator | None, strength: float = 0.4) -> Tensor:
    """Random brightness and contrast per image (and per channel for colour images), clamped to [0, 1]."""
    n, c = x.shape[:2]
    shape = (n, c, 1, 1)
    bright = 1 + strength * (2 * torch.rand(shape, generator=gen, device=x.device, dtype=x.dtype) - 1)
    contrast = 1 + strength * (2 * torch.rand(shape, generator=gen, device=x.device, dtype=x.dtype) - 1)
    mean = x.mean((2, 3), keepdim=True)
    return ((x - mean) * contrast + mean * bright).clamp(0, 1)


def image_views(x: Tensor, gen: torch.Generator | None, settings: PretextSettings) -> Tensor:
    """One SimCLR view of each image: crop-resize, jitter and (colour images, p = 0.2) grey-scale."""
    v = random_resized_crop(x, gen, settings.crop_scale)
    v = colour_jitter(v, gen, settings.jitter)
    if v.shape[1] == 3:
        grey = torch.rand(v.shape[0], 1, 1, 1, generator=gen, device=v.device) < 0.2
        v = torch.where(grey, v.mean(1, keepdim=True).expand_as(v), v)
    return v


def nt_xent(h1: Tensor, h2: Tensor, temperature: float = 0.1) -> Tensor:
    """SimCLR's NT-Xent (paper eq. 4): each view must pick its partner among the other 2N - 1."""
    n = h1.shape[0]
    z = F.normalize(torch.cat([h1, h2]), dim=1)
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(-float("inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


class Pretext(nn.Module):
    """``h = W2 sigma(W1 phi(x))``: the partitioner's body plus SimCLR's projection head."""

    def __init__(self, partitioner: Partitioner, proj_dim: int = 128) -> None:
        super().__init__()
        d = partitioner.feature_dim
        self.partitioner = partitioner
        self.projection = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, proj_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.projection(self.partitioner.features(x))


def train_pretext(partitioner: Partitioner, data: Tensor, settings: PretextSettings, gen: torch.Generator,
                  log: list[dict[str, float]] | None = None) -> Pretext:
    """Train the partitioner's body with NT-Xent on two views of random batches of ``data``."""
    settings.validate()
    pretext = Pretext(partitioner, settings.proj_dim).to(data.device)
    opt = torch.optim.Adam(pretext.parameters(), lr=settings.lr)
    pretext.train()
    bs = min(settings.batch_size, data.shape[0])
    start = time.perf_counter()
    for step in range(settings.steps):
        idx = torch.randint(0, data.shape[0], (bs,), generator=gen, device=data.device)
        x = data[idx]
        h = pretext(torch.cat([image_views(x, gen, settings), image_views(x, gen, settings)]))
        loss = nt_xent(*h.chunk(2), temperature=settings.temperature)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log is not None and (step % 50 == 0 or step == settings.steps - 1):
            log.append({"phase": "pretext", "step": step, "loss": float(loss.detach()), "seconds": time.perf_counter() - start})
    return pretext


@torch.no_grad()
def embed(fn, data: Tensor, batch_size: int = 1024) -> Tensor:
    """``fn`` on ``data`` in eval-style batches (the caller sets the module mode)."""
    return torch.cat([fn(data[i : i + batch_size]) for i in range(0, data.shape[0], batch_size)])


@torch.no_grad()
def pretext_features(pretext: Pretext, data: Tensor, batch_size: int = 1024) -> Tensor:
    """L2-normalised 128-d pretext embeddings ``h`` of ``data`` (the k-NN graph is built on them)."""
    was = pretext.training
    pretext.eval()
    out = F.normalize(embed(pretext, data, batch_size), dim=1)
    pretext.train(was)
    return out
