"""SN-GAN ResNets for 32x32 and 48x48 images (Miyato et al. 2018; paper 003, Tables 6 and 7).

Generator: dense to a small map, residual up-sampling blocks (BN-ReLU-up-conv3x3-BN-ReLU-conv3x3,
shortcut up-conv1x1), BN-ReLU-conv3x3-tanh, mapped to our [0, 1] image range as ``(tanh + 1) / 2``.
Critic: an optimised first block (conv-ReLU-conv-avgpool), residual down-sampling blocks, residual
blocks at the last resolution, ReLU and global sum pooling; images are mapped to [-1, 1] first.
The critic exposes ``features`` / ``head`` / ``feature_dim`` like the other critics, so encoders
and inverters reuse its body. Spectral norm is added by :func:`add_spectral_norm`, not built in,
so WGAN-GP critics and encoders go without it.

Initialisation: PyTorch's default (Kaiming-uniform) for the unconditional nets. ClusterGAN's
N(0, 0.02) leaves a residual critic without normalisation dead (measured: logits ~1e-5 and
gradients ~1e-7 on shapes32, no learning in 60 steps, where the default reaches ACC 0.99), and
SN-GAN's Xavier with global sum pooling starts an encoder's logits at std ~20 (a saturated
softmax). PGMGAN's conditional nets keep paper 003's N(0, 0.02): its D is spectral-normalised and
its G batch-normalised, so the scale of the weights does not matter there.

One width ``ch`` sets every layer, as in paper 003: ``resnet32`` has G blocks of ``ch`` and D blocks
of ``ch / 2`` (the paper's 256 / 128); ``resnet48`` has G 2ch -> ch -> ch/2 -> ch/4 -> ch/8 from a
3x3 map and D ch/8 -> ch/4 -> ch/2 -> ch -> 2ch (the paper's ch = 512). The lean CPU widths keep
the layout and shrink ``ch``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from .errors import GanclusterError

#: arch name -> image side
RESNET_SIZES = {"resnet32": 32, "resnet48": 48}
#: paper 003's ``ch`` (Tables 6 and 7)
FAITHFUL_WIDTHS = {"resnet32": 256, "resnet48": 512}
#: CPU defaults (same layout, narrower): one G + D step at batch 64 takes ~1 s on one core at these widths
LEAN_WIDTHS = {"resnet32": 32, "resnet48": 64}


@dataclass(frozen=True)
class ResNetLayout:
    """Channel plan of one arch at one width."""

    size: int  # image side
    start: int  # side of the generator's first map
    g_widths: tuple[int, ...]  # channels of the dense map, then of each up block's output
    d_down: tuple[int, ...]  # output channels of the down-sampling blocks (the first is the optimised block)
    d_plain: tuple[int, ...]  # output channels of the blocks at the last resolution


def resnet_layout(arch: str, width: int) -> ResNetLayout:
    """The layout of ``arch`` ('resnet32' or 'resnet48') at channel width ``ch = width``."""
    if arch == "resnet32":
        if width < 2 or width % 2:
            raise GanclusterError(f"resnet32 needs an even width >= 2 (D uses width / 2), got {width}")
        d = width // 2
        return ResNetLayout(32, 4, (width,) * 4, (d, d), (d, d))
    if arch == "resnet48":
        if width < 8 or width % 8:
            raise GanclusterError(f"resnet48 needs a width that is a multiple of 8 (layers go down to width / 8), got {width}")
        w = width
        return ResNetLayout(48, 3, (2 * w, w, w // 2, w // 4, w // 8), (w // 8, w // 4, w // 2, w), (2 * w,))
    raise GanclusterError(f"unknown ResNet arch {arch!r}; choose one of {sorted(RESNET_SIZES)}")


class BatchNorm(nn.BatchNorm2d):
    """BatchNorm2d that accepts (and ignores) a condition, so blocks call every norm as ``norm(h, y)``."""

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:  # noqa: ARG002 - same call as CBN
        return super().forward(x)


NormFactory = Callable[[int], nn.Module]


class UpBlock(nn.Module):
    """``x -> conv(relu(norm(conv(up(relu(norm(x))))))) + conv1x1(up(x))``, doubling the side."""

    def __init__(self, cin: int, cout: int, norm: NormFactory) -> None:
        super().__init__()
        self.norm1, self.conv1 = norm(cin), nn.Conv2d(cin, cout, 3, 1, 1)
        self.norm2, self.conv2 = norm(cout), nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = F.interpolate(F.relu(self.norm1(x, y)), scale_factor=2)
        h = self.conv2(F.relu(self.norm2(self.conv1(h), y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class DownBlock(nn.Module):
    """``conv(relu(conv(relu(x))))`` (avg-pooled when down-sampling) plus a 1x1 shortcut when needed.

    ``first``: SN-GAN's optimised block for the image itself (no ReLU before the first conv, the
    shortcut pools before its 1x1 conv).
    """

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(cin, cout, 3, 1, 1), nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1) if (cin != cout or down) else None
        self.down, self.first = down, first

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(x if self.first else F.relu(x))
        h = self.conv2(F.relu(h))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.first:
            s = self.shortcut(F.avg_pool2d(s, 2))
        else:
            if self.shortcut is not None:
                s = self.shortcut(s)
            if self.down:
                s = F.avg_pool2d(s, 2)
        return h + s


class ResNetGenerator(nn.Module):
    """``z -> (C, size, size)`` in [0, 1]; with a conditional ``norm`` factory, ``(z, y) -> x`` (CBN)."""

    def __init__(self, latent_dim: int, channels: int, layout: ResNetLayout, norm: NormFactory | None = None) -> None:
        super().__init__()
        norm = norm or BatchNorm
        g = layout.g_widths
        self.start, self.c0 = layout.start, g[0]
        self.dense = nn.Linear(latent_dim, layout.start * layout.start * g[0])
        self.blocks = nn.ModuleList(UpBlock(a, b, norm) for a, b in zip(g[:-1], g[1:]))
        self.out_norm = norm(g[-1])
        self.out = nn.Conv2d(g[-1], channels, 3, 1, 1)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.dense(z).view(-1, self.c0, self.start, self.start)
        for block in self.blocks:
            h = block(h, y)
        h = self.out(F.relu(self.out_norm(h, y)))
        return 0.5 * (torch.tanh(h) + 1.0)


class ResNetFeatures(nn.Module):
    """The critic's body: [0, 1] images -> [-1, 1] -> residual blocks -> ReLU -> global sum pooling."""

    def __init__(self, channels: int, layout: ResNetLayout) -> None:
        super().__init__()
        widths = (channels, *layout.d_down, *layout.d_plain)
        n_down = len(layout.d_down)
        self.blocks = nn.Sequential(*(
            DownBlock(a, b, down=i < n_down, first=i == 0) for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]))
        ))
        self.out_dim = widths[-1]
        self.size = layout.size

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[-2:]) != (self.size, self.size):
            raise GanclusterError(f"this ResNet critic takes {self.size}x{self.size} images, got {tuple(x.shape[1:])}")
        return F.relu(self.blocks(2.0 * x - 1.0)).sum((2, 3))


class ResNetCritic(nn.Module):
    """Images -> ``out_dim`` outputs: 1 for a discriminator, the latent's size for an encoder."""

    def __init__(self, channels: int, out_dim: int, layout: ResNetLayout) -> None:
        super().__init__()
        self.body = ResNetFeatures(channels, layout)
        self.feature_dim = self.body.out_dim
        self.head = nn.Linear(self.feature_dim, out_dim)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def add_spectral_norm(net: nn.Module) -> nn.Module:
    """Spectral-normalise every linear, conv and embedding weight of ``net`` in place (SN-GAN)."""
    for m in list(net.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)) and not parametrize.is_parametrized(m):
            spectral_norm(m)
    return net


def has_spectral_norm(net: nn.Module) -> bool:
    """True if some weight of ``net`` is spectral-normalised."""
    return any(parametrize.is_parametrized(m, "weight") for m in net.modules())
