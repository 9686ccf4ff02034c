"""Partition-conditional networks shared by all partitions (PGMGAN's mixture of generators / discriminators).

One generator and one discriminator; only per-partition embeddings differ (paper 003, Sec. 4):

* the generator's BatchNorms are conditional (CBN): shared normalisation statistics, a gain and a
  bias per partition;
* the discriminator is a projection discriminator (Miyato & Koyama): ``D(x, y) = psi(phi(x)) +
  <embed(y), phi(x)>``, the embedding being the only per-partition part.

Vectors get MLPs; (C, 28, 28) images (MNIST, Stacked-MNIST) get lean DCGAN-style conv nets;
(C, 32, 32) and (C, 48, 48) images get the paper's SN-GAN ResNets (Tables 6 and 7,
:mod:`gancluster.nets_resnet`) with CBN in every generator block. With a single partition these are
a plain GAN (the "GAN" row of the ablation).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from .errors import GanclusterError
from .nets_resnet import FAITHFUL_WIDTHS, RESNET_SIZES, ResNetFeatures, ResNetGenerator, add_spectral_norm, resnet_layout


class ConditionalBatchNorm(nn.Module):
    """BatchNorm without its own affine, followed by a per-partition gain (init 1) and bias (init 0)."""

    def __init__(self, num_features: int, n_partitions: int, image: bool) -> None:
        super().__init__()
        self.bn = (nn.BatchNorm2d if image else nn.BatchNorm1d)(num_features, affine=False)
        self.gain = nn.Embedding(n_partitions, num_features)
        self.bias = nn.Embedding(n_partitions, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)
        self.image = image

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        if y is None:
            raise GanclusterError("a conditional generator needs the partition of each sample: call G(z, y)")
        out = self.bn(x)
        g, b = self.gain(y), self.bias(y)
        if self.image:
            g, b = g[:, :, None, None], b[:, :, None, None]
        return out * g + b


class CondMLPGenerator(nn.Module):
    """``(z, partition) -> x`` for vectors: (Linear-CBN-ReLU) x depth, Linear."""

    def __init__(self, latent_dim: int, data_shape: tuple[int, ...], n_partitions: int, width: int = 256,
                 depth: int = 2) -> None:
        super().__init__()
        self.data_shape = tuple(data_shape)
        sizes = [latent_dim] + [width] * depth
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.norms = nn.ModuleList(ConditionalBatchNorm(width, n_partitions, image=False) for _ in range(depth))
        self.out = nn.Linear(width, math.prod(data_shape))

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        h = z
        for lin, norm in zip(self.linears, self.norms):
            h = torch.relu(norm(lin(h), y))
        return self.out(h).view(z.shape[0], *self.data_shape)


class CondConv28Generator(nn.Module):
    """``(z, partition) -> (C, 28, 28)`` in [0, 1]: FC 7x7xc2-CBN-ReLU, deconv c1-CBN-ReLU, deconv C, sigmoid.

    ``hidden > 0`` puts an FC ``hidden``-CBN-ReLU layer first and normalises the 7x7xc2 FC output per
    unit, as ClusterGAN's generator does: without it the GAN collapses on Stacked-MNIST (BENCHMARKS.md).
    """

    def __init__(self, latent_dim: int, channels: int, n_partitions: int, widths: tuple[int, int] = (32, 64),
                 hidden: int = 0) -> None:
        super().__init__()
        c1, c2 = widths
        self.c2 = c2
        self.hidden = None
        if hidden > 0:
            self.hidden = nn.Linear(latent_dim, hidden)
            self.norm_hidden = ConditionalBatchNorm(hidden, n_partitions, image=False)
        self.fc = nn.Linear(hidden if hidden > 0 else latent_dim, c2 * 7 * 7)
        self.norm0 = (ConditionalBatchNorm(c2 * 7 * 7, n_partitions, image=False) if hidden > 0
                      else ConditionalBatchNorm(c2, n_partitions, image=True))
        self.up1 = nn.ConvTranspose2d(c2, c1, 4, 2, 1)
        self.norm1 = ConditionalBatchNorm(c1, n_partitions, image=True)
        self.up2 = nn.ConvTranspose2d(c1, channels, 4, 2, 1)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        if self.hidden is None:
            h = torch.relu(self.norm0(self.fc(z).view(-1, self.c2, 7, 7), y))
        else:
            h = torch.relu(self.norm_hidden(self.hidden(z), y))
            h = torch.relu(self.norm0(self.fc(h), y)).view(-1, self.c2, 7, 7)
        h = torch.relu(self.norm1(self.up1(h), y))
        return torch.sigmoid(self.up2(h))


class ProjectionDiscriminator(nn.Module):
    """``D(x, y) = linear(phi(x)) + <embed(y), phi(x)>`` around a feature body ``phi``."""

    def __init__(self, body: nn.Module, feature_dim: int, n_partitions: int, sn: bool) -> None:
        super().__init__()
        self.body = body
        wrap = spectral_norm if sn else (lambda m: m)
        self.linear = wrap(nn.Linear(feature_dim, 1))
        self.embed = wrap(nn.Embedding(n_partitions, feature_dim))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.body(x)
        return self.linear(h).squeeze(1) + (self.embed(y) * h).sum(1)


def _mlp_body(data_shape: tuple[int, ...], width: int, depth: int, sn: bool) -> nn.Module:
    wrap = spectral_norm if sn else (lambda m: m)
    layers: list[nn.Module] = [nn.Flatten()]
    prev = math.prod(data_shape)
    for _ in range(depth):
        layers += [wrap(nn.Linear(prev, width)), nn.LeakyReLU(0.2)]
        prev = width
    return nn.Sequential(*layers)


def _conv28_body(channels: int, widths: tuple[int, int], fc: int, sn: bool) -> nn.Module:
    wrap = spectral_norm if sn else (lambda m: m)
    c1, c2 = widths
    return nn.Sequential(
        wrap(nn.Conv2d(channels, c1, 4, 2, 1)), nn.LeakyReLU(0.2),
        wrap(nn.Conv2d(c1, c2, 4, 2, 1)), nn.LeakyReLU(0.2),
        nn.Flatten(), wrap(nn.Linear(c2 * 7 * 7, fc)), nn.LeakyReLU(0.2),
    )


def is_image28(data_shape: tuple[int, ...]) -> bool:
    return len(data_shape) == 3 and tuple(data_shape[1:]) == (28, 28)


def resnet_arch(data_shape: tuple[int, ...]) -> str | None:
    """'resnet32' / 'resnet48' for (C, 32, 32) / (C, 48, 48) images, else None."""
    for arch, side in RESNET_SIZES.items():
        if len(data_shape) == 3 and tuple(data_shape[1:]) == (side, side):
            return arch
    return None


def build_conditional_gan(data_shape: tuple[int, ...], n_partitions: int, latent_dim: int, *, width: int = 256,
                          depth: int = 2, conv_widths: tuple[int, int] = (32, 64), conv_fc: int = 256,
                          conv_hidden: int = 0, resnet_width: int | None = None,
                          d_spectral_norm: bool | None = None) -> tuple[nn.Module, nn.Module]:
    """The shared conditional generator and projection discriminator for ``data_shape``.

    ``d_spectral_norm=None`` means spectral norm in D for images (SN-GAN, as the paper) and none for
    vectors (a 1-Lipschitz-per-layer D cannot tell apart modes of std 0.01 under a hinge margin of 1).
    ``resnet_width`` is the ResNets' ``ch`` (None: the paper's, 256 at 32x32 and 512 at 48x48);
    ``conv_hidden`` the 28x28 generator's hidden FC width (0: none).
    """
    shape = tuple(int(s) for s in data_shape)
    if n_partitions < 1:
        raise GanclusterError(f"need >= 1 partition, got {n_partitions}")
    resnet = resnet_arch(shape)
    image = is_image28(shape) or resnet is not None
    sn = image if d_spectral_norm is None else bool(d_spectral_norm)
    if resnet is not None:
        layout = resnet_layout(resnet, FAITHFUL_WIDTHS[resnet] if resnet_width is None else resnet_width)
        G: nn.Module = ResNetGenerator(latent_dim, shape[0], layout,
                                       norm=lambda c: ConditionalBatchNorm(c, n_partitions, image=True))
        body = ResNetFeatures(shape[0], layout)
        D = ProjectionDiscriminator(add_spectral_norm(body) if sn else body, body.out_dim, n_partitions, sn)
    elif image:
        G = CondConv28Generator(latent_dim, shape[0], n_partitions, conv_widths, conv_hidden)
        D = ProjectionDiscriminator(_conv28_body(shape[0], conv_widths, conv_fc, sn), conv_fc, n_partitions, sn)
    elif len(shape) == 1 or len(shape) == 3:
        G = CondMLPGenerator(latent_dim, shape, n_partitions, width, depth)
        D = ProjectionDiscriminator(_mlp_body(shape, width, depth, sn), width, n_partitions, sn)
    else:
        raise GanclusterError(f"no conditional nets for samples of shape {shape}")
    _init(G)
    _init(D)
    return G, D


def _init(net: nn.Module) -> None:
    """N(0, 0.02) weights, zero biases (paper, App. C), also under spectral norm; CBN gains 1, biases 0."""
    from torch.nn.utils import parametrize

    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)):
            w = m.parametrizations.weight.original if parametrize.is_parametrized(m, "weight") else m.weight
            with torch.no_grad():
                nn.init.normal_(w, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
    for m in net.modules():
        if isinstance(m, ConditionalBatchNorm):
            nn.init.ones_(m.gain.weight)
            nn.init.zeros_(m.bias.weight)
