"""An exponential moving average of a generator's weights, sampled from instead of the last iterate.

A GAN's generator keeps moving around the equilibrium (modes drift, their masses swing from step
to step); the average of its recent weights sits nearer the centre of that motion (Yazici et al.,
"The Unusual Effectiveness of Averaging in GAN Training", ICLR 2019; StyleGAN's G_ema). The
average is a frozen copy of the network that follows it after every optimizer step; it is a
submodule of the method, so checkpoints and saved models hold it like any other weight.
PGMGAN offers it as ``ema_decay``, off in its recipes: on our benchmarks it did not help
(BENCHMARKS.md, PGMGAN sections).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage(nn.Module):
    """``average`` tracks ``net`` with decay ``min(decay, (1 + t) / (10 + t))`` after update t.

    The ramp (TensorFlow's ``num_updates`` rule) keeps the first, random weights from lingering in
    the average of a short run. Buffers (batch-norm statistics) are copied, not averaged.
    """

    def __init__(self, net: nn.Module, decay: float) -> None:
        super().__init__()
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.average = copy.deepcopy(net)
        for p in self.average.parameters():
            p.requires_grad_(False)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        t = int(self.updates)
        decay = min(self.decay, (1.0 + t) / (10.0 + t))
        for mine, theirs in zip(self.average.parameters(), net.parameters()):
            mine.lerp_(theirs.detach(), 1.0 - decay)
        for mine, theirs in zip(self.average.buffers(), net.buffers()):
            mine.copy_(theirs)
        self.updates += 1
