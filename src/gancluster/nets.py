"""Networks by data shape: MLPs for vectors, ClusterGAN's 28x28 conv nets and a lean variant.

Sizes come from :class:`NetConfig`. ``"official"`` widths follow the ClusterGAN code
(conv 64/128, FC 1024); ``"lean"`` halves the convolutions and shrinks the FC layer, which is what
makes CPU training minutes rather than hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from .config import require

Arch = Literal["auto", "mlp", "conv28", "conv28-lean"]


@dataclass
class NetConfig:
    """Architecture choice. ``auto``: conv nets for 28x28 images (lean ones when ``lean``), MLP otherwise."""

    arch: Arch = "auto"
    lean: bool = True
    mlp_width: int = 256
    mlp_depth: int = 2

    def validate(self) -> None:
        require(self.mlp_width >= 1, f"mlp_width must be >= 1, got {self.mlp_width}")
        require(self.mlp_depth >= 1, f"mlp_depth must be >= 1, got {self.mlp_depth}")

    def resolve(self, data_shape: tuple[int, ...]) -> str:
        if self.arch != "auto":
            if self.arch.startswith("conv28"):
                require(
                    tuple(data_shape[-2:]) == (28, 28),
                    f"arch={self.arch} needs 28x28 images, the data has shape {data_shape}; use arch='mlp'",
                )
            return self.arch
        if len(data_shape) == 3 and tuple(data_shape[-2:]) == (28, 28):
            return "conv28-lean" if self.lean else "conv28"
        return "mlp"


CONV28_WIDTHS = {"conv28": (64, 128, 1024), "conv28-lean": (32, 64, 256)}


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """ClusterGAN's initialisation: weights N(0, 0.02), biases 0 (BatchNorm gains N(1, 0.02))."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def _mlp(sizes: list[int], act: nn.Module) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), act]
    return layers


class MLPGenerator(nn.Module):
    """Latent -> data for vectors (linear output) or small images (sigmoid output)."""

    def __init__(self, latent_dim: int, data_shape: tuple[int, ...], width: int, depth: int) -> None:
        super().__init__()
        self.data_shape = tuple(data_shape)
        out = math.prod(data_shape)
        self.body = nn.Sequential(*_mlp([latent_dim] + [width] * depth, nn.LeakyReLU(0.2)), nn.Linear(width, out))
        self.image = len(data_shape) == 3

    def forward(self, z: Tensor) -> Tensor:
        x = self.body(z)
        if self.image:
            x = torch.sigmoid(x)
        return x.view(z.shape[0], *self.data_shape)


class MLPCritic(nn.Module):
    """Data -> ``out_dim`` outputs: 1 for a discriminator, latent size for an encoder."""

    def __init__(self, data_shape: tuple[int, ...], out_dim: int, width: int, depth: int) -> None:
        super().__init__()
        inp = math.prod(data_shape)
        self.body = nn.Sequential(nn.Flatten(), *_mlp([inp] + [width] * depth, nn.LeakyReLU(0.2)))
        self.head = nn.Linear(width, out_dim)
        self.feature_dim = width

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


class Conv28Generator(nn.Module):
    """ClusterGAN's 28x28 generator: FC-BN-ReLU, FC-BN-ReLU, deconv-BN-ReLU, deconv, sigmoid."""

    def __init__(self, latent_dim: int, channels: int, widths: tuple[int, int, int]) -> None:
        super().__init__()
        c1, c2, fc = widths
        self.c2 = c2
        self.fc = nn.Sequential(
            nn.Linear(latent_dim, fc), nn.BatchNorm1d(fc), nn.ReLU(),
            nn.Linear(fc, c2 * 7 * 7), nn.BatchNorm1d(c2 * 7 * 7), nn.ReLU(),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(c2, c1, 4, 2, 1), nn.BatchNorm2d(c1), nn.ReLU(),
            nn.ConvTranspose2d(c1, channels, 4, 2, 1), nn.Sigmoid(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.deconv(self.fc(z).view(-1, self.c2, 7, 7))


class Conv28Critic(nn.Module):
    """ClusterGAN's 28x28 discriminator body (no BatchNorm: WGAN-GP needs per-sample gradients)."""

    def __init__(self, channels: int, out_dim: int, widths: tuple[int, int, int]) -> None:
        super().__init__()
        c1, c2, fc = widths
        self.body = nn.Sequential(
            nn.Conv2d(channels, c1, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(c1, c2, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(c2 * 7 * 7, fc), nn.LeakyReLU(0.2),
        )
        self.head = nn.Linear(fc, out_dim)
        self.feature_dim = fc

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def build_generator(cfg: NetConfig, latent_dim: int, data_shape: tuple[int, ...]) -> nn.Module:
    arch = cfg.resolve(data_shape)
    if arch == "mlp":
        net: nn.Module = MLPGenerator(latent_dim, data_shape, cfg.mlp_width, cfg.mlp_depth)
    else:
        net = Conv28Generator(latent_dim, data_shape[0], CONV28_WIDTHS[arch])
    init_normal(net)
    return net


def build_critic(cfg: NetConfig, data_shape: tuple[int, ...], out_dim: int) -> nn.Module:
    """A discriminator (``out_dim=1``) or an encoder/inverter (``out_dim`` = latent outputs)."""
    arch = cfg.resolve(data_shape)
    if arch == "mlp":
        net: nn.Module = MLPCritic(data_shape, out_dim, cfg.mlp_width, cfg.mlp_depth)
    else:
        net = Conv28Critic(data_shape[0], out_dim, CONV28_WIDTHS[arch])
    init_normal(net)
    return net
