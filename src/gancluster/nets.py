"""Networks by data shape: MLPs for vectors, ClusterGAN's 28x28 conv nets and two leaner variants,
SN-GAN ResNets for 32x32 and 48x48 images (:mod:`gancluster.nets_resnet`).

Sizes come from :class:`NetConfig`. ``"official"`` widths follow the ClusterGAN code
(conv 64/128, FC 1024); ``"lean"`` halves the convolutions and shrinks the FC layer, which is what
makes CPU training minutes rather than hours; ``"conv28-tiny"`` halves them again (twice the
training throughput, the same MNIST clustering). ResNets take paper 003's width when not lean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal, get_args

import torch
from torch import Tensor, nn

from .config import require
from .nets_resnet import (
    FAITHFUL_WIDTHS,
    LEAN_WIDTHS,
    RESNET_SIZES,
    ResNetCritic,
    ResNetGenerator,
    add_spectral_norm,
    resnet_layout,
)

Arch = Literal["auto", "mlp", "conv28", "conv28-wide", "conv28-xwide", "conv28-lean", "conv28-tiny",
               "resnet32", "resnet48"]


@dataclass
class NetConfig:
    """Architecture choice.

    ``auto``: ClusterGAN's conv nets for 28x28 images (lean ones when ``lean``), SN-GAN ResNets for
    32x32 and 48x48 images (any number of channels), MLP otherwise; ``conv28-tiny`` (28x28 images,
    half the lean widths) is only used when asked for. ``width``: the ResNets' channel
    width ``ch`` (None: 32 / 64 when ``lean``, paper 003's 256 / 512 otherwise).
    ``d_spectral_norm``: spectral norm in the discriminator (None: on for ResNets unless the loss is
    WGAN-GP, whose gradient penalty already constrains the critic; off for the other nets).
    Encoders, inverters and classifiers are never spectral-normalised.
    """

    arch: Arch = "auto"
    lean: bool = True
    mlp_width: int = 256
    mlp_depth: int = 2
    width: int | None = None
    d_spectral_norm: bool | None = None

    def validate(self) -> None:
        require(self.arch in get_args(Arch), f"arch must be one of {list(get_args(Arch))}, got {self.arch!r}")
        require(self.mlp_width >= 1, f"mlp_width must be >= 1, got {self.mlp_width}")
        require(self.mlp_depth >= 1, f"mlp_depth must be >= 1, got {self.mlp_depth}")
        require(self.width is None or self.width >= 1, f"width must be >= 1 (or None for the default), got {self.width}")

    def with_overrides(self, **values: object) -> "NetConfig":
        """A copy with the given fields replaced; ``None`` values keep this config's (estimator parameters)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})

    def resolve(self, data_shape: tuple[int, ...]) -> str:
        shape = tuple(data_shape)
        if self.arch != "auto":
            if self.arch.startswith("conv28"):
                require(
                    len(shape) == 3 and shape[-2:] == (28, 28),
                    f"arch={self.arch} needs 28x28 images, the data has shape {shape}; use arch='auto' or 'mlp'",
                )
            if self.arch in RESNET_SIZES:
                side = RESNET_SIZES[self.arch]
                require(
                    len(shape) == 3 and shape[-2:] == (side, side),
                    f"arch={self.arch} needs {side}x{side} images, the data has shape {shape}; use arch='auto' "
                    f"or resize the images to {side}x{side} (--image-size {side})",
                )
            return self.arch
        if len(shape) == 3 and shape[-2:] == (28, 28):
            return "conv28-lean" if self.lean else "conv28"
        for arch, side in RESNET_SIZES.items():
            if len(shape) == 3 and shape[-2:] == (side, side):
                return arch
        return "mlp"

    def resnet_width(self, arch: str) -> int:
        """The channel width ``ch`` of ResNet ``arch``."""
        if self.width is not None:
            return self.width
        return (LEAN_WIDTHS if self.lean else FAITHFUL_WIDTHS)[arch]

    def discriminator_sn(self, data_shape: tuple[int, ...], loss: str) -> bool:
        """Whether the discriminator for ``data_shape`` trained with ``loss`` gets spectral norm."""
        if self.d_spectral_norm is not None:
            return self.d_spectral_norm
        return self.resolve(data_shape) in RESNET_SIZES and loss != "wgan-gp"


#: conv1 / conv2 channels and FC width. "conv28-tiny" halves the lean widths again: about half the
#: step time on two CPU cores (BENCHMARKS.md, issue 7's throughput sections).
#: "conv28-wide" / "conv28-xwide" double / quadruple ClusterGAN's conv widths; NEMGAN's ``inverter_arch``
#: uses them for ``h`` alone on FMNIST-5 probes, where a wider ``h`` (G and D lean) clustered better
#: (BENCHMARKS.md).
CONV28_WIDTHS = {"conv28": (64, 128, 1024), "conv28-wide": (128, 256, 1024), "conv28-xwide": (256, 512, 1024),
                 "conv28-lean": (32, 64, 256), "conv28-tiny": (16, 32, 128)}


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


class ScaledInput(nn.Module):
    """A generator that multiplies its latent by a fixed per-coordinate ``scale`` first.

    Used to give a generator its noise coordinates at unit scale when the prior draws them small
    (ClusterGAN's ``z_n ~ N(0, 0.1^2)`` beside a one-hot of size 1): the same family of functions,
    but Adam's steps on the first layer then move the noise's weights as fast as the mode's.
    """

    def __init__(self, net: nn.Module, scale: Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("scale", scale.detach().clone().float())

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z * self.scale)


def build_generator(cfg: NetConfig, latent_dim: int, data_shape: tuple[int, ...]) -> nn.Module:
    arch = cfg.resolve(data_shape)
    if arch in RESNET_SIZES:  # PyTorch's default initialisation (see nets_resnet)
        return ResNetGenerator(latent_dim, data_shape[0], resnet_layout(arch, cfg.resnet_width(arch)))
    if arch == "mlp":
        net = MLPGenerator(latent_dim, data_shape, cfg.mlp_width, cfg.mlp_depth)
    else:
        net = Conv28Generator(latent_dim, data_shape[0], CONV28_WIDTHS[arch])
    init_normal(net)
    return net


def build_critic(cfg: NetConfig, data_shape: tuple[int, ...], out_dim: int, *, spectral_norm: bool = False) -> nn.Module:
    """A discriminator (``out_dim=1``) or an encoder/inverter (``out_dim`` = latent outputs).

    ``spectral_norm`` normalises every layer (for a discriminator: pass
    ``cfg.discriminator_sn(data_shape, loss)``); encoders leave it off.
    """
    arch = cfg.resolve(data_shape)
    if arch in RESNET_SIZES:  # PyTorch's default initialisation (see nets_resnet)
        net: nn.Module = ResNetCritic(data_shape[0], out_dim, resnet_layout(arch, cfg.resnet_width(arch)))
    else:
        if arch == "mlp":
            net = MLPCritic(data_shape, out_dim, cfg.mlp_width, cfg.mlp_depth)
        else:
            net = Conv28Critic(data_shape[0], out_dim, CONV28_WIDTHS[arch])
        init_normal(net)
    return add_spectral_norm(net) if spectral_norm else net
