"""PGMGAN (Armandpour et al., 2021): a space partitioner, its guide, and a shared mixture of GANs.

Before the GAN (``prepare``) a partitioner S is trained (or loaded): features (raw vectors, or a
SimCLR pretext for images), a k-NN graph, eq. 5 (:mod:`gancluster.partition.scan`). Real samples get
the partition ``argmax S(x)``; one conditional generator (CBN) and one projection discriminator,
shared by all partitions, train on (x, partition) with the hinge loss; fakes carry the labels of the
real batch. The generator also minimises ``lambda * R_i(G(z, i))`` (eq. 8), lambda annealed linearly
from ``guide_start`` to ``guide_end``. Sampling draws partitions from their empirical frequencies
(a saved buffer) and redraws a sample until its partition agrees (``R_i = 0``), at most
``max_redraws`` times, from G or (``ema_decay`` > 0) a moving average of its weights.

Ablations of the paper's Table 1 are settings: ``partitions='none'`` (a GAN: one partition),
``'random'`` (a fixed random partition id per training sample), ``guide_start=0`` (Partition GAN).
Without a partitioner (the first two) ``cluster_logits`` is all zeros (every sample in cluster 0).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from ..config import require, to_dict
from ..ema import WeightAverage
from ..errors import GanclusterError
from ..losses import d_hinge, g_hinge, set_requires_grad
from ..nets_conditional import build_conditional_gan, is_image28, resnet_arch
from ..nets_resnet import LEAN_WIDTHS
from ..partition.features import PretextSettings, pretext_features, train_pretext
from ..partition.guide import LambdaSchedule, guided_generator_loss
from ..partition.io import load_partitioner
from ..partition.lipschitz import build_partitioner
from ..partition.scan import ScanSettings, neighbour_graph, partition_logits, train_partitioner
from ..priors import LatentPrior
from .base import BatchFn, Method


@dataclass
class PartitionerSettings:
    """The partitioner's architecture and how its features are made (``auto``: raw vectors, SimCLR images)."""

    kind: Literal["iresnet", "mlp", "linear"] = "iresnet"
    hidden: int = 64
    depth: int = 4
    image_widths: tuple[int, int] = (32, 64)
    image_depth: int = 2
    feature_dim: int = 512
    pool: int = 7
    coeff: float = 0.9
    n_power_iterations: int = 5
    features: Literal["auto", "raw", "simclr", "pca"] = "auto"
    subset: int = 20000
    path: str | None = None

    def validate(self) -> None:
        require(self.hidden >= 1 and self.depth >= 1 and self.image_depth >= 1, "partitioner sizes must be >= 1")
        require(0 < self.coeff < 1, f"the Lipschitz coefficient must be in (0, 1), got {self.coeff}")
        require(self.n_power_iterations >= 1, "n_power_iterations must be >= 1")
        require(self.subset >= 2, f"partitioner subset must be >= 2, got {self.subset}")


@dataclass
class PGMGANSettings:
    """Settings of PGMGAN. Defaults are the paper's / official code's (``faithful``); see ``best``."""

    latent_dim: int = 128
    n_critic: int = 4
    lr: float = 2e-4
    betas: tuple[float, float] = (0.0, 0.999)
    guide_start: float = 6.0
    guide_end: float = 1e-4
    anneal_steps: int = 10_000
    guide_reduction: Literal["sum", "mean"] = "sum"
    lr_decay: bool = False
    partitions: Literal["learned", "random", "none"] = "learned"
    max_redraws: int = 20
    width: int = 256
    depth: int = 2
    conv_widths: tuple[int, int] = (32, 64)
    conv_fc: int = 256
    conv_hidden: int = 0  # 28x28 generator: hidden FC layer width (0: none, the faithful DCGAN-style G)
    resnet_width: int | None = None  # ch of the 32x32 / 48x48 ResNets; None: the paper's 256 / 512
    d_spectral_norm: bool | None = None
    #: sample from an exponential moving average of G's weights with this decay (0: the last weights)
    ema_decay: float = 0.0
    partitioner: PartitionerSettings = field(default_factory=PartitionerSettings)
    scan: ScanSettings = field(default_factory=ScanSettings)
    pretext: PretextSettings = field(default_factory=PretextSettings)

    @classmethod
    def faithful(cls, **overrides: Any) -> "PGMGANSettings":
        """Paper + official code: hinge, Adam 2e-4 (0, 0.999), 4 D steps, lambda 6 -> 1e-4, eq. 5 at Adam 1e-4."""
        return cls(**overrides)

    @classmethod
    def best(cls, data_shape: tuple[int, ...], **overrides: Any) -> "PGMGANSettings":
        """Our CPU recipe; each change is named and ablated in BENCHMARKS.md.

        - ``scan.lr`` 1e-2 (vectors) / 1e-3 (images) instead of 1e-4: eq. 5 converges in 2000 steps
          instead of 100 epochs;
        - vectors: ``scan.kmeans_init_steps`` = 1000: cross-entropy on k-means labels first, as the
          official 2-D toy code trains its partitioner, which avoids eq. 5's merge-and-split optimum;
        - ``n_critic`` 1 instead of 4 (4x cheaper generator steps) and, for vectors, ``lr`` 1e-3
          instead of 2e-4 (the toy GAN moves 5x faster per step; images keep 2e-4);
        - ``lr_decay``: both learning rates decay linearly to 0 over ``anneal_steps`` (with lambda);
          the generated modes stop oscillating around their centre at the end of training.
        - 32x32 / 48x48 images: the lean ResNet width ``ch`` (32 / 64 instead of 256 / 512).
        - 28x28 images take ClusterGAN's GAN settings instead (Adam (0.5, 0.9), no lr decay, latent 40,
          a 256-unit hidden layer in G; but one critic step, not its 2) and the official code's
          ``mean`` guide reduction: with the settings above the GAN collapses on Stacked-MNIST, and at
          k = 200 the paper's sum over partitions weighs the guide 200x the official code's. Turning
          ``lr_decay`` back on doubled Stacked-MNIST's KL (0.128 vs 0.063, seed 0, 2 critic steps): the
          generator was still learning. One critic step gives the generator 1.5x the steps in the hour
          and lowered that KL to 0.048 (mean of 3 seeds) from 0.064 with 2.

        ``ema_decay`` stays 0 (G's last weights) in both recipes: a moving average of G's weights
        (0.999) changed the 2-D high-quality rate by -0.07 to +0.03 points per run and made
        Stacked-MNIST's KL worse (0.26 vs 0.18); see BENCHMARKS.md.
        """
        image = len(data_shape) == 3
        scan = ScanSettings(lr=1e-3 if image else 1e-2, kmeans_init_steps=0 if image else 1000)
        base: dict[str, Any] = dict(scan=scan, lr=2e-4 if image else 1e-3, n_critic=1, lr_decay=True)
        arch = resnet_arch(tuple(data_shape))
        if arch is not None:
            base["resnet_width"] = LEAN_WIDTHS[arch]
        if is_image28(tuple(data_shape)):
            base.update(betas=(0.5, 0.9), lr_decay=False, latent_dim=40, conv_hidden=256,
                        guide_reduction="mean")
        base.update(overrides)
        return cls(**base)

    def validate(self) -> None:
        require(self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        require(self.n_critic >= 1, f"n_critic must be >= 1, got {self.n_critic}")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(self.guide_start >= 0 and self.guide_end >= 0,
                f"the guide weight lambda must be >= 0, got guide_start={self.guide_start}, guide_end={self.guide_end}")
        require(self.anneal_steps >= 1, f"anneal_steps must be >= 1, got {self.anneal_steps}")
        require(self.max_redraws >= 0, f"max_redraws must be >= 0, got {self.max_redraws}")
        require(0 <= self.ema_decay < 1, f"ema_decay must be in [0, 1) (0: no weight average), got {self.ema_decay}")
        require(self.width >= 1 and self.depth >= 1, "width and depth must be >= 1")
        require(self.conv_hidden >= 0, f"conv_hidden must be >= 0 (0: no hidden layer), got {self.conv_hidden}")
        require(self.resnet_width is None or self.resnet_width >= 1, f"resnet_width must be >= 1, got {self.resnet_width}")
        self.partitioner.validate()
        self.scan.validate()
        self.pretext.validate()

    @property
    def schedule(self) -> LambdaSchedule:
        return LambdaSchedule(self.guide_start, self.guide_end, self.anneal_steps)


class PartitionPrior(LatentPrior):
    """``z ~ N(0, I)`` and a partition drawn from the empirical partition frequencies (a buffer)."""

    def __init__(self, n_partitions: int, dim: int) -> None:
        super().__init__()
        self.n_modes, self.dim = n_partitions, dim
        self.register_buffer("weights", torch.full((n_partitions,), 1.0 / n_partitions))

    def mode_weights(self) -> Tensor:
        return self.weights

    def sample(self, n, generator=None, modes=None):
        device = self.weights.device
        modes = self.sample_modes(n, generator) if modes is None else modes.to(device)
        return torch.randn(n, self.dim, generator=generator, device=device), modes


class PGMGANMethod(Method):
    name = "pgmgan"

    def __init__(self, settings: PGMGANSettings, n_clusters: int, data_shape: tuple[int, ...], priors: Tensor) -> None:
        super().__init__()
        settings.validate()
        self.settings = settings
        self.n_clusters = int(n_clusters)
        self.data_shape = tuple(int(s) for s in data_shape)
        self.prior = PartitionPrior(self.n_clusters, settings.latent_dim)
        self.register_buffer("target_priors", priors.float().clone())
        n_net = 1 if settings.partitions == "none" else self.n_clusters
        self.generator_net, self.discriminator = build_conditional_gan(
            self.data_shape, n_net, settings.latent_dim, width=settings.width, depth=settings.depth,
            conv_widths=settings.conv_widths, conv_fc=settings.conv_fc, conv_hidden=settings.conv_hidden,
            resnet_width=settings.resnet_width,
            d_spectral_norm=settings.d_spectral_norm,
        )
        self.generator_ema = WeightAverage(self.generator_net, settings.ema_decay) if settings.ema_decay > 0 else None
        p = settings.partitioner
        self.partitioner = None
        if settings.partitions == "learned":
            self.partitioner = build_partitioner(
                p.kind, self.data_shape, self.n_clusters, hidden=p.hidden,
                depth=p.image_depth if len(self.data_shape) == 3 else p.depth, widths=p.image_widths,
                feature_dim=p.feature_dim, pool=p.pool, coeff=p.coeff, n_power_iterations=p.n_power_iterations,
            )
        betas = tuple(settings.betas)
        self.optimizers = {
            "g": torch.optim.Adam(self.generator_net.parameters(), lr=settings.lr, betas=betas),
            "d": torch.optim.Adam(self.discriminator.parameters(), lr=settings.lr, betas=betas),
        }
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self.register_buffer("partitioner_ready", torch.zeros((), dtype=torch.uint8))
        self.register_buffer("partitioner_seconds", torch.zeros((), dtype=torch.float64))
        # seeds the partitioner's training and the random-partition ablation; drawn under the fit's seed
        self.register_buffer("seed", torch.randint(0, 2**31 - 1, (), dtype=torch.long))
        self.train_labels: Tensor | None = None
        self.prepare_log: list[dict[str, float]] = []
        self.last_accept_rate = float("nan")

    def settings_dict(self) -> dict[str, Any]:
        return to_dict(self.settings)

    def train(self, mode: bool = True) -> "PGMGANMethod":
        """The partitioner is frozen once trained: it stays in eval mode during the GAN."""
        super().train(mode)
        if self.partitioner is not None:
            self.partitioner.eval()
        return self

    # ---- partitions ------------------------------------------------------------------------------
    def _net_labels(self, partitions: Tensor) -> Tensor:
        return torch.zeros_like(partitions) if self.settings.partitions == "none" else partitions

    def prepare(self, data: Tensor) -> None:
        """Train (or load) the partitioner once, then label every training sample and count frequencies."""
        s = self.settings
        n = data.shape[0]
        if n < self.n_clusters:
            raise GanclusterError(f"got {n} sample(s) for {self.n_clusters} partitions; need at least n_clusters samples")
        if tuple(data.shape[1:]) != self.data_shape:
            raise GanclusterError(f"data has sample shape {tuple(data.shape[1:])}, the model expects {self.data_shape}")
        gen = torch.Generator(device=data.device).manual_seed(int(self.seed))
        if s.partitions == "learned":
            assert self.partitioner is not None
            if not bool(self.partitioner_ready):
                start = time.perf_counter()
                if s.partitioner.path:
                    load_partitioner(self.partitioner, s.partitioner.path)
                else:
                    self._train_partitioner(data, gen)
                self.partitioner_seconds.fill_(time.perf_counter() - start)
                self.partitioner_ready.fill_(1)
            set_requires_grad(self.partitioner, False)
            self.partitioner.eval()
            labels = partition_logits(self.partitioner, data).argmax(1)
        elif s.partitions == "random":
            labels = torch.randint(0, self.n_clusters, (n,), generator=gen, device=data.device)
        else:
            labels = torch.zeros(n, dtype=torch.long, device=data.device)
        self.train_labels = labels
        freq = torch.bincount(labels, minlength=self.n_clusters).float() / n
        self.prior.weights.copy_(freq.to(self.prior.weights.device))

    def _train_partitioner(self, data: Tensor, gen: torch.Generator) -> None:
        s, p = self.settings, self.settings.partitioner
        partitioner = self.partitioner
        assert partitioner is not None
        n_sub = min(p.subset, data.shape[0])
        if n_sub < self.n_clusters:
            raise GanclusterError(f"the partitioner subset ({n_sub}) is smaller than n_clusters={self.n_clusters}")
        sub = data[torch.randperm(data.shape[0], generator=gen, device=data.device)[:n_sub]]
        features = p.features
        if features == "auto":
            features = "simclr" if len(self.data_shape) == 3 else "raw"
        log = self.prepare_log
        if features == "simclr":
            if len(self.data_shape) != 3:
                raise GanclusterError("features='simclr' needs images; use 'raw' or 'pca' for vectors")
            pretext = train_pretext(partitioner, sub, s.pretext, gen, log)
            feats = pretext_features(pretext, sub)
            metric = "cosine"
        elif features == "pca":
            from ..neighbours import pca_features

            feats, metric = pca_features(sub), "cosine"
        else:
            feats, metric = sub.reshape(n_sub, -1), "euclidean"
        neighbours = neighbour_graph(feats, s.scan.n_neighbours, metric)
        train_partitioner(partitioner, sub, neighbours, s.scan, gen, self.target_priors, s.pretext, log,
                          features=feats)

    # ---- the GAN ---------------------------------------------------------------------------------
    def _labels(self, index: Tensor) -> Tensor:
        if self.train_labels is None:
            raise GanclusterError("PGMGAN.train_step called before prepare(data)")
        return self.train_labels[index]

    def train_step(self, next_batch: BatchFn, rng: torch.Generator) -> dict[str, float]:
        s = self.settings
        G, D = self.generator_net, self.discriminator
        step = int(self.steps_done)
        self.steps_done += 1
        if s.lr_decay:
            lr = s.lr * max(0.0, 1.0 - step / s.anneal_steps)
            for opt in self.optimizers.values():
                for group in opt.param_groups:
                    group["lr"] = lr
        set_requires_grad(D, True)
        for _ in range(s.n_critic):
            batch = next_batch()
            real = batch.x
            parts = self._labels(batch.index)
            y = self._net_labels(parts)
            z = torch.randn(real.shape[0], s.latent_dim, generator=rng, device=real.device)
            with torch.no_grad():
                fake = G(z, y)
            d_loss = d_hinge(D(real, y), D(fake, y))
            self.optimizers["d"].zero_grad(set_to_none=True)
            d_loss.backward()
            self.optimizers["d"].step()
        set_requires_grad(D, False)
        z = torch.randn(real.shape[0], s.latent_dim, generator=rng, device=real.device)
        fake = G(z, y)
        adv = g_hinge(D(fake, y))
        lam = s.schedule(step)
        logs = {"loss_d": float(d_loss.detach()), "loss_g": float(adv.detach()), "lambda": lam}
        loss = adv
        if self.partitioner is not None and lam > 0:
            loss, r = guided_generator_loss(adv, self.partitioner(fake), parts, lam, s.guide_reduction)
            logs["guide"] = float(r.detach())
        self.optimizers["g"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["g"].step()
        if self.generator_ema is not None:
            self.generator_ema.update(G)
        return logs

    # ---- inference -------------------------------------------------------------------------------
    @property
    def sampling_generator(self) -> torch.nn.Module:
        """The weight average when ``ema_decay`` > 0, else the trained generator itself."""
        return self.generator_net if self.generator_ema is None else self.generator_ema.average

    def cluster_logits(self, x: Tensor) -> Tensor:
        if self.partitioner is None:
            return x.new_zeros(x.shape[0], self.n_clusters)
        return self.partitioner(x)

    def embed(self, x: Tensor) -> Tensor:
        return x.flatten(1) if self.partitioner is None else self.partitioner.features(x)

    @torch.no_grad()
    def generate(self, n: int, rng: torch.Generator | None = None, modes: Tensor | None = None,
                 max_redraws: int | None = None) -> tuple[Tensor, Tensor]:
        """Samples and their partitions; with a partitioner, redraw until ``argmax S(x) = partition`` (R = 0).

        ``max_redraws`` defaults to the setting (20 in the paper); 0 turns the rejection off. Samples
        still outside their partition after the last redraw are kept. ``last_accept_rate`` records the
        share accepted at the first draw.
        """
        s = self.settings
        redraws = s.max_redraws if max_redraws is None else int(max_redraws)
        z, modes = self.prior.sample(n, rng, modes)
        y = self._net_labels(modes)
        G = self.sampling_generator
        x = G(z, y)
        if self.partitioner is None or redraws == 0:
            return x, modes
        bad = self.partitioner(x).argmax(1) != modes
        self.last_accept_rate = 1.0 - float(bad.float().mean())
        for _ in range(redraws):
            if not bad.any():
                break
            idx = bad.nonzero().squeeze(1)
            z_new = torch.randn(idx.numel(), s.latent_dim, generator=rng, device=x.device)
            x_new = G(z_new, y[idx])
            x[idx] = x_new
            bad[idx] = self.partitioner(x_new).argmax(1) != modes[idx]
        return x, modes
