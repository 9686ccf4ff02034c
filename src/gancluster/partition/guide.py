"""The partitioner's guide ``R_i`` and the generator term of paper 003's eq. 8.

``R_i(x) = sum_c (f_c(x) - f_i(x))_+`` (paper eq. 6, the default ``reduction="sum"``) or its mean
over the k logits (the official code, ``reduction="mean"``, REFERENCE.md): the two differ by the
constant factor k, which only rescales lambda. Either is zero exactly when ``argmax f = i`` (ties
included) and positive otherwise, so the guide leaves generated samples inside their partition to
the discriminator alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ..errors import GanclusterError

Reduction = Literal["sum", "mean"]


def guide(logits: Tensor, target: Tensor, reduction: Reduction = "sum") -> Tensor:
    """``R_target(x)`` per sample from the partitioner's logits ``(n, k)`` (not probabilities)."""
    if logits.dim() != 2 or target.shape != logits.shape[:1]:
        raise GanclusterError(f"guide needs logits (n, k) and targets (n,), got {tuple(logits.shape)}, "
                              f"{tuple(target.shape)}")
    own = logits.gather(1, target.long().view(-1, 1))
    gaps = torch.relu(logits - own)
    return gaps.sum(1) if reduction == "sum" else gaps.mean(1)


@dataclass
class LambdaSchedule:
    """Guide weight annealed linearly from ``start`` to ``end`` over ``steps`` generator steps (paper: 6.0 -> 1e-4)."""

    start: float = 6.0
    end: float = 1e-4
    steps: int = 10_000

    def validate(self) -> None:
        if not (self.start >= 0 and self.end >= 0):
            raise GanclusterError(f"the guide weight lambda must be >= 0, got start={self.start}, end={self.end}")
        if self.steps < 1:
            raise GanclusterError(f"the lambda schedule needs >= 1 step, got {self.steps}")

    def __call__(self, step: int) -> float:
        t = min(max(step, 0), self.steps) / self.steps
        return self.start + (self.end - self.start) * t


def guided_generator_loss(adversarial: Tensor, partitioner_logits: Tensor, partitions: Tensor, lam: float,
                          reduction: Reduction = "sum") -> tuple[Tensor, Tensor]:
    """Eq. 8: adversarial generator loss ``+ lambda * mean_j R_{i_j}(G_{i_j}(z_j))``; returns (loss, mean R)."""
    r = guide(partitioner_logits, partitions, reduction).mean()
    return adversarial + lam * r, r
