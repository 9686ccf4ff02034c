"""Partitioner networks: an invertible residual (i-ResNet) partitioner and the plain MLP of the ablation.

Theorem 3 of paper 003: if the partitioner's body ``phi: R^d -> R^d`` satisfies
``c0 ||x - y|| <= ||phi(x) - phi(y)||`` and the logits are linear in ``phi``, the guide ``R_i`` has no
local optimum outside partition ``i``. A residual block ``x + g(x)`` with ``Lip(g) < 1`` is such a
map (``c0 = 1 - Lip(g)``); ``g`` is built from convolutions / linear layers whose operator norm is
kept below ``coeff = 0.9`` by ``W / max(1, sigma / coeff)``, sigma estimated by power iterations on
the layer's own operator (for a convolution: the convolution on the input's spatial size, as
i-ResNet does, not the reshaped kernel), and 1-Lipschitz activations (ELU).

* :class:`InvertibleMLP` (vectors): blocks ``x + W3 ELU(W2 ELU(W1 x))`` keep the data dimension.
* :class:`InvertibleConv` (28x28 images, lean for CPU): invertible squeezes (space-to-depth),
  ActNorm and pre-activation bottleneck blocks ``x + W3 ELU(W2 ELU(W1 ELU(x)))`` (3x3, 1x1, 3x3).
* :class:`PlainMLP`: an unconstrained ReLU MLP (paper Fig. 3-4, right), whose guide can have local
  optima outside the partition.

:class:`Partitioner` = body + head. For vectors the head is one linear layer on ``phi`` (exactly the
theorem's setting). For images it follows the official code: BN-LeakyReLU-pool-Linear(512) on the
i-ResNet output, then Linear(512, k); those head layers are not covered by the theorem (as in the
paper's own code), only the convolutional body is.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import GanclusterError

PartitionerKind = Literal["iresnet", "mlp", "linear"]
COEFF = 0.9


# ---- spectrally normalised layers ------------------------------------------------------------------
class _SpectralNormed(nn.Module):
    """Shared power-iteration logic; subclasses define the operator ``A`` and its transpose."""

    coeff: float
    n_power_iterations: int
    weight: nn.Parameter

    def _op(self, v: Tensor, weight: Tensor) -> Tensor:  # A v
        raise NotImplementedError

    def _op_t(self, u: Tensor, weight: Tensor) -> Tensor:  # A^T u
        raise NotImplementedError

    @torch.no_grad()
    def power_iterate(self, n: int) -> None:
        """Run ``n`` power iterations on the raw weight, updating the stored singular vectors."""
        u, v = self.u, self.v
        for _ in range(n):
            v = F.normalize(self._op_t(u, self.weight).flatten(), dim=0, eps=1e-12).view_as(v)
            u = F.normalize(self._op(v, self.weight).flatten(), dim=0, eps=1e-12).view_as(u)
        self.u.copy_(u)
        self.v.copy_(v)

    def sigma(self) -> Tensor:
        """Estimated largest singular value of the raw weight (differentiable w.r.t. the weight)."""
        return (self.u.flatten() * self._op(self.v, self.weight).flatten()).sum()

    def normalized_weight(self) -> Tensor:
        """``W / max(1, sigma / coeff)``: operator norm at most ``coeff`` (up to the power-iteration error)."""
        if self.training and self.n_power_iterations > 0:
            self.power_iterate(self.n_power_iterations)
        factor = torch.clamp(self.sigma() / self.coeff, min=1.0)
        return self.weight / factor


class SNLinear(_SpectralNormed):
    """Linear layer whose spectral norm is kept below ``coeff``."""

    def __init__(self, in_features: int, out_features: int, coeff: float = COEFF, n_power_iterations: int = 5,
                 bias: bool = True) -> None:
        super().__init__()
        self.coeff, self.n_power_iterations = float(coeff), int(n_power_iterations)
        lin = nn.Linear(in_features, out_features, bias=bias)
        self.weight = lin.weight
        self.bias = lin.bias
        self.register_buffer("u", F.normalize(torch.randn(out_features), dim=0))
        self.register_buffer("v", F.normalize(torch.randn(in_features), dim=0))
        self.power_iterate(15)

    def _op(self, v: Tensor, weight: Tensor) -> Tensor:
        return weight @ v

    def _op_t(self, u: Tensor, weight: Tensor) -> Tensor:
        return weight.t() @ u

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.normalized_weight(), self.bias)


class SNConv2d(_SpectralNormed):
    """Stride-1 'same' convolution whose operator norm on ``in_hw`` inputs is kept below ``coeff``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, in_hw: tuple[int, int],
                 coeff: float = COEFF, n_power_iterations: int = 5) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise GanclusterError(f"SNConv2d needs an odd kernel size, got {kernel_size}")
        self.coeff, self.n_power_iterations = float(coeff), int(n_power_iterations)
        self.padding = kernel_size // 2
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=self.padding)
        self.weight, self.bias = conv.weight, conv.bias
        h, w = in_hw
        self.register_buffer("u", F.normalize(torch.randn(out_channels * h * w), dim=0).view(1, out_channels, h, w))
        self.register_buffer("v", F.normalize(torch.randn(in_channels * h * w), dim=0).view(1, in_channels, h, w))
        self.power_iterate(15)

    def _op(self, v: Tensor, weight: Tensor) -> Tensor:
        return F.conv2d(v, weight, padding=self.padding)

    def _op_t(self, u: Tensor, weight: Tensor) -> Tensor:
        return F.conv_transpose2d(u, weight, padding=self.padding)

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[-2:]) != tuple(self.v.shape[-2:]):
            raise GanclusterError(
                f"this partitioner layer was built for {tuple(self.v.shape[-2:])} inputs, got {tuple(x.shape[-2:])}; "
                "the partitioner does not match the data shape"
            )
        return F.conv2d(x, self.normalized_weight(), self.bias, padding=self.padding)


def lipschitz_layers(module: nn.Module) -> Iterator[_SpectralNormed]:
    """Every spectrally normalised layer inside ``module``."""
    return (m for m in module.modules() if isinstance(m, _SpectralNormed))


@torch.no_grad()
def refresh_spectral_norms(module: nn.Module, n_iterations: int = 100) -> None:
    """Converge the stored singular vectors (called after training, so eval-mode weights are bounded)."""
    for layer in lipschitz_layers(module):
        layer.power_iterate(n_iterations)


@torch.no_grad()
def operator_norm(layer: _SpectralNormed, n_iterations: int = 500, seed: int = 0) -> float:
    """Largest singular value of the layer's *normalised* weight, by a long fresh power iteration."""
    w = layer.weight / torch.clamp(layer.sigma() / layer.coeff, min=1.0)  # the weight forward() uses (eval)
    gen = torch.Generator(device=w.device).manual_seed(seed)
    v = torch.randn(layer.v.shape, generator=gen, device=w.device)
    v = v / v.norm()
    for _ in range(n_iterations):
        u = layer._op(v, w)
        u = u / u.norm()
        v = layer._op_t(u, w)
        v = v / v.norm()
    return float(layer._op(v, w).norm())


# ---- bodies ----------------------------------------------------------------------------------------
class InvertibleMLP(nn.Module):
    """``phi: R^d -> R^d`` as residual blocks ``x + W3 ELU(W2 ELU(W1 x))`` with ``||W_j|| <= coeff``."""

    def __init__(self, dim: int, hidden: int = 64, n_blocks: int = 4, coeff: float = COEFF,
                 n_power_iterations: int = 5) -> None:
        super().__init__()
        self.out_dim = dim
        self.blocks = nn.ModuleList(
            nn.Sequential(SNLinear(dim, hidden, coeff, n_power_iterations), nn.ELU(),
                          SNLinear(hidden, hidden, coeff, n_power_iterations), nn.ELU(),
                          SNLinear(hidden, dim, coeff, n_power_iterations))
            for _ in range(n_blocks)
        )

    def forward(self, x: Tensor) -> Tensor:
        for g in self.blocks:
            x = x + g(x)
        return x


class PlainMLP(nn.Module):
    """Unconstrained ReLU MLP body (the ablation of paper Fig. 3-4)."""

    def __init__(self, dim: int, hidden: int = 64, depth: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = dim
        for _ in range(depth):
            layers += [nn.Linear(prev, hidden), nn.ReLU()]
            prev = hidden
        self.net = nn.Sequential(*layers)
        self.out_dim = hidden

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ActNorm(nn.Module):
    """Per-channel affine map, initialised from the first batch to zero mean / unit variance (Glow)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.uint8))

    def forward(self, x: Tensor) -> Tensor:
        if not bool(self.initialized) and self.training:
            with torch.no_grad():
                mean = x.mean((0, 2, 3), keepdim=True)
                std = x.std((0, 2, 3), keepdim=True).clamp_min(1e-3)
                self.loc.copy_(-mean)
                self.log_scale.copy_(-std.log())
                self.initialized.fill_(1)
        return (x + self.loc) * self.log_scale.exp()


class BottleneckBlock(nn.Module):
    """Pre-activation residual block ``x + W3 ELU(W2 ELU(W1 ELU(x)))`` (3x3, 1x1, 3x3 convs)."""

    def __init__(self, channels: int, hidden: int, hw: tuple[int, int], coeff: float, n_power_iterations: int) -> None:
        super().__init__()
        self.g = nn.Sequential(
            nn.ELU(), SNConv2d(channels, hidden, 3, hw, coeff, n_power_iterations),
            nn.ELU(), SNConv2d(hidden, hidden, 1, hw, coeff, n_power_iterations),
            nn.ELU(), SNConv2d(hidden, channels, 3, hw, coeff, n_power_iterations),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.g(x)


class InvertibleConv(nn.Module):
    """Lean i-ResNet for (C, 28, 28) images: per stage a squeeze, ActNorm and bottleneck blocks.

    28x28 -> squeeze -> 14x14 (4C channels) -> squeeze -> 7x7 (16C channels); the map keeps the
    dimension (squeezes are permutations). ``widths`` are the bottleneck widths per stage
    (the official code: 3 stages x 7 blocks, widths 32/64/128).
    """

    def __init__(self, data_shape: tuple[int, ...], widths: tuple[int, ...] = (32, 64), blocks_per_stage: int = 2,
                 coeff: float = COEFF, n_power_iterations: int = 5) -> None:
        super().__init__()
        c, h, w = data_shape
        stages = []
        for hidden in widths:
            if h % 2 or w % 2:
                raise GanclusterError(f"cannot squeeze a {h}x{w} map: use fewer stages for this image size")
            c, h, w = 4 * c, h // 2, w // 2
            stages.append(nn.Sequential(ActNorm(c), *[BottleneckBlock(c, hidden, (h, w), coeff, n_power_iterations)
                                                      for _ in range(blocks_per_stage)]))
        self.stages = nn.ModuleList(stages)
        self.out_shape = (c, h, w)

    def forward(self, x: Tensor) -> Tensor:
        for stage in self.stages:
            x = stage(F.pixel_unshuffle(x, 2))
        return x


class ImageHead(nn.Module):
    """BN-LeakyReLU(0.2)-avgpool-Linear(feature_dim) on the i-ResNet output (the official head)."""

    def __init__(self, in_shape: tuple[int, int, int], feature_dim: int = 512, pool: int = 7) -> None:
        super().__init__()
        c, h, w = in_shape
        self.bn = nn.BatchNorm2d(c)
        self.pool = min(pool, h, w)
        self.fc = nn.Linear(c * self.pool * self.pool, feature_dim)

    def forward(self, x: Tensor) -> Tensor:
        x = F.leaky_relu(self.bn(x), 0.2)
        x = F.adaptive_avg_pool2d(x, self.pool)
        return self.fc(x.flatten(1))


# ---- the partitioner -------------------------------------------------------------------------------
class Partitioner(nn.Module):
    """``S(x) = softmax(W phi(x))``: ``features`` gives ``phi`` (the pretext's body), ``forward`` the logits."""

    def __init__(self, body: nn.Module, feature_dim: int, n_partitions: int, data_shape: tuple[int, ...],
                 kind: str) -> None:
        super().__init__()
        self.body = body
        self.head = nn.Linear(feature_dim, n_partitions)
        self.feature_dim = feature_dim
        self.n_partitions = n_partitions
        self.data_shape = tuple(int(s) for s in data_shape)
        self.kind = kind

    def features(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.data_shape:
            raise GanclusterError(
                f"the partitioner was built for samples of shape {self.data_shape}, got {tuple(x.shape[1:])}; "
                "it does not match the data"
            )
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def build_partitioner(kind: PartitionerKind, data_shape: tuple[int, ...], n_partitions: int, *,
                      hidden: int = 64, depth: int = 4, widths: tuple[int, ...] = (32, 64),
                      feature_dim: int = 512, pool: int = 7, coeff: float = COEFF,
                      n_power_iterations: int = 5) -> Partitioner:
    """A partitioner for ``data_shape``: ``iresnet`` (Lipschitz), ``mlp`` (plain) or ``linear`` (one layer).

    Vectors: ``depth`` residual blocks (iresnet) or hidden layers (mlp) of width ``hidden``.
    Images ``(C, 28, 28)``: ``iresnet`` only, ``depth`` blocks per stage of bottleneck ``widths``.
    """
    shape = tuple(int(s) for s in data_shape)
    if n_partitions < 1:
        raise GanclusterError(f"the number of partitions must be >= 1, got {n_partitions}")
    if not 0 < coeff < 1:
        raise GanclusterError(f"the Lipschitz coefficient must be in (0, 1), got {coeff}")
    if len(shape) == 1:
        dim = shape[0]
        if kind == "iresnet":
            body: nn.Module = InvertibleMLP(dim, hidden, depth, coeff, n_power_iterations)
        elif kind == "mlp":
            body = PlainMLP(dim, hidden, depth)
        elif kind == "linear":
            body = nn.Identity()
            body.out_dim = dim
        else:
            raise GanclusterError(f"partitioner must be 'iresnet', 'mlp' or 'linear', got {kind!r}")
        return Partitioner(body, body.out_dim, n_partitions, shape, kind)
    if len(shape) == 3:
        if kind != "iresnet":
            raise GanclusterError(f"image partitioners are 'iresnet' only, got {kind!r}")
        trunk = InvertibleConv(shape, tuple(widths), depth, coeff, n_power_iterations)
        body = nn.Sequential(trunk, ImageHead(trunk.out_shape, feature_dim, pool))
        return Partitioner(body, feature_dim, n_partitions, shape, kind)
    raise GanclusterError(f"no partitioner for samples of shape {shape}; give vectors (d,) or images (c, h, w)")


def n_parameters(module: nn.Module) -> int:
    return sum(math.prod(p.shape) for p in module.parameters())
