"""ClusterGAN (Mukherjee et al., 2019): one-hot + Gaussian latent, encoder with beta_n / beta_c.

``faithful`` settings follow the paper and the official code (REFERENCE.md). The recipe switches
below are our additions, each off in the faithful recipe and each ablated in BENCHMARKS.md:

- ``real_agreement``: the encoder also sees real data. Each real sample and one of its nearest
  neighbours (a k-NN graph of PCA features, built once before training) should fall in the same
  cluster: -log <p(x), p(x_nn)>, on augmented views (the SCAN loss that PGMGAN's partitioner uses).
- ``fake_cluster_to_encoder``: the share of the beta_c loss on generated data that trains the
  encoder (1 in the paper). At 0 the encoder's cluster head learns from real data alone and the
  generator follows it: mode k must produce what the encoder calls cluster k.
- ``real_prior_match``: the batch mean of the encoder's cluster probabilities on real data is
  pulled to the cluster priors (condition C3 of paper 000, applied to the inverter on real data).
- ``warmup_steps``: before the GAN starts, the encoder trains alone on real data with the two terms
  above (batches of ``warmup_batch_size``, learning rate ``warmup_lr``). Those steps are cheap (no
  generator, no discriminator), and the GAN then starts from an inverter that already separates the
  data, so the generator's modes lock onto real clusters from the first step.
- ``warmup_heads``: the warm-up trains several cluster heads on the shared encoder body at once and
  keeps the one with the lowest loss (as SCAN does): a single head sometimes settles in a partition
  that merges two classes and splits another; the lowest-loss head rarely does.
- ``warmup_max_share``: the warm-up ends once this share of the run's budget (``max_steps``, or
  ``max_seconds`` when that is nearer) is used, even if ``warmup_steps`` are not done, so that a short
  or slowed-down run still trains its generator (and ``sample`` still draws every cluster). 1 lets
  the warm-up take the whole run. The cut is part of the run's state: resuming with a larger budget
  does not reopen a warm-up that ended.
- ``real_graph``: the k-NN graph compares images after deskewing and centring them by their ink
  moments ('auto': single-channel images only). On MNIST it lifts k-NN label agreement from 0.936
  to 0.961, and it is what keeps 4s and 9s apart (pixel neighbours pair them by slant).
- ``real_self_label``: in the GAN phase, samples the encoder is confident about (probability >=
  ``real_self_label_threshold`` on the unaugmented image) become pseudo-labels for their augmented
  view, each cluster weighted the same (SCAN's self-labelling step).
- GAN settings of the generator: ``loss='hinge'``, ``n_critic=2``, spectral norm in the
  discriminator (``net.d_spectral_norm``) and ``standardize_noise`` (the generator reads
  ``z_n / sigma``; the prior is unchanged, so backprop decoding and the encoder's ``z_n`` keep the
  paper's scale). Why: with a non-saturating loss, one critic step and z_n 10x smaller than the
  one-hot, the lean generator drew about one image per mode (diversity ratio 0.074, domain FID
  188 after 3,500 steps; BENCHMARKS.md, "ClusterGAN's generator on MNIST"); with these four,
  0.815 and 68. Clustering is unchanged within noise (MNIST, 3 seeds, "ClusterGAN best recipe,
  hinge + SN" section) and each GAN step costs about 1.5x.

The real-data terms, the warm-up and self-labelling are shared with NEMGAN and GM-GAN
(:mod:`gancluster.methods.real_clusters`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from ..config import require, to_dict
from ..losses import ADVERSARIAL
from ..nets import NetConfig, ScaledInput, build_critic, build_generator
from ..priors import OneHotGaussianPrior
from . import real_clusters
from .base import Batch, BatchFn, Method, train_critic


@dataclass
class ClusterGANSettings:
    """Settings of ClusterGAN. Defaults are the best CPU recipe; ``faithful()`` gives the paper's."""

    latent_dim: int = 30
    sigma: float = 0.1
    beta_n: float = 10.0
    beta_c: float = 10.0
    loss: Literal["wgan-gp", "ns", "hinge"] = "hinge"
    gp_weight: float = 10.0
    n_critic: int = 2
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.9)
    real_agreement: float = 1.0
    real_prior_match: float = 5.0
    real_neighbours: int = 10
    real_augment: bool = True
    fake_cluster_to_encoder: float = 0.0
    warmup_steps: int = 3000
    warmup_batch_size: int = 256
    warmup_lr: float = 1e-3
    warmup_heads: int = 10
    warmup_max_share: float = 0.5
    real_self_label: float = 0.0
    real_self_label_threshold: float = 0.99
    real_graph: Literal["auto", "pixels", "deskewed", "hog"] = "auto"
    real_confidence: float = 0.0
    standardize_noise: bool = True
    net: NetConfig = field(default_factory=lambda: NetConfig(d_spectral_norm=True))

    @classmethod
    def faithful(cls, **overrides: Any) -> "ClusterGANSettings":
        """The official recipe: WGAN-GP (10), 5 critic steps, Adam 1e-4 (0.5, 0.9), full-size nets."""
        base = dict(
            loss="wgan-gp", n_critic=5, lr=1e-4, betas=(0.5, 0.9), real_agreement=0.0,
            real_prior_match=0.0, fake_cluster_to_encoder=1.0, warmup_steps=0, standardize_noise=False,
            net=NetConfig(arch="auto", lean=False),
        )
        base.update(overrides)
        return cls(**base)

    def validate(self) -> None:
        require(self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        require(self.sigma > 0, f"sigma must be > 0, got {self.sigma}")
        require(self.n_critic >= 1, f"n_critic must be >= 1, got {self.n_critic}")
        require(self.lr > 0, f"lr must be > 0, got {self.lr}")
        require(0.0 <= self.fake_cluster_to_encoder <= 1.0,
                f"fake_cluster_to_encoder must be in [0, 1], got {self.fake_cluster_to_encoder}")
        require(self.real_neighbours >= 1, f"real_neighbours must be >= 1, got {self.real_neighbours}")
        require(self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}")
        require(self.warmup_batch_size >= 1, f"warmup_batch_size must be >= 1, got {self.warmup_batch_size}")
        require(self.warmup_lr > 0, f"warmup_lr must be > 0, got {self.warmup_lr}")
        require(self.warmup_heads >= 1, f"warmup_heads must be >= 1, got {self.warmup_heads}")
        require(0 < self.warmup_max_share <= 1, f"warmup_max_share must be in (0, 1], got {self.warmup_max_share}")
        require(self.real_graph in real_clusters.REAL_GRAPHS,
                f"real_graph must be one of {real_clusters.REAL_GRAPHS}, got {self.real_graph!r}")
        require(0 < self.real_self_label_threshold < 1,
                f"real_self_label_threshold must be in (0, 1), got {self.real_self_label_threshold}")
        require(self.warmup_steps == 0 or self.uses_real_data,
                "warmup_steps > 0 trains the encoder on real data: it needs real_agreement or real_prior_match > 0")
        for name in ("beta_n", "beta_c", "gp_weight", "real_agreement", "real_prior_match", "real_self_label", "real_confidence"):
            require(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        self.net.validate()

    @property
    def uses_real_data(self) -> bool:
        return self.real_agreement > 0 or self.real_prior_match > 0


class ClusterGANMethod(Method):
    name = "clustergan"

    def __init__(
        self, settings: ClusterGANSettings, n_clusters: int, data_shape: tuple[int, ...], priors: Tensor
    ) -> None:
        super().__init__()
        settings.validate()
        self.settings = settings
        self.n_clusters = n_clusters
        self.prior = OneHotGaussianPrior(n_clusters, settings.latent_dim, settings.sigma, priors)
        self.generator_net = build_generator(settings.net, self.prior.dim, data_shape)
        if settings.standardize_noise:  # G reads z_n / sigma: see ClusterGANSettings
            scale = torch.cat([torch.full((settings.latent_dim,), 1.0 / settings.sigma), torch.ones(n_clusters)])
            self.generator_net = ScaledInput(self.generator_net, scale)
        self.discriminator = build_critic(settings.net, data_shape, 1,
                                          spectral_norm=settings.net.discriminator_sn(data_shape, settings.loss))
        self.encoder = build_critic(settings.net, data_shape, settings.latent_dim + n_clusters)
        # extra cluster heads tried during the warm-up; the best one is copied into the encoder
        self.recipe = real_clusters.RealClusterRecipe.of(settings)
        self.neighbours: Tensor | None = None
        n_extra = self.recipe.extra_heads
        self.extra_heads = nn.ModuleList(nn.Linear(self.encoder.feature_dim, n_clusters) for _ in range(n_extra))
        self.register_buffer("head_loss", torch.zeros(n_extra + 1))
        self.d_loss_fn, self.g_loss_fn = ADVERSARIAL[settings.loss]
        betas = tuple(settings.betas)
        # The official code shares one Adam between G and E; Adam is per-parameter, so two Adams with
        # the same settings are the same update, and E can take its own rate during the warm-up.
        self.optimizers = {
            "g": torch.optim.Adam(self.generator_net.parameters(), lr=settings.lr, betas=betas),
            "e": torch.optim.Adam([*self.encoder.parameters(), *self.extra_heads.parameters()], lr=settings.lr,
                                  betas=betas),
            "d": torch.optim.Adam(self.discriminator.parameters(), lr=settings.lr, betas=betas),
        }
        real_clusters.register_phase_state(self, settings.warmup_steps)

    def settings_dict(self) -> dict[str, Any]:
        return to_dict(self.settings)

    def _encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out = self.encoder(x)
        return out[:, : self.settings.latent_dim], out[:, self.settings.latent_dim :]

    def cluster_logits(self, x: Tensor) -> Tensor:
        return self._encode(x)[1]

    def encode_noise(self, x: Tensor) -> Tensor:
        """The encoder's estimate of the continuous latent part ``z_n`` (a start for backprop decoding)."""
        return self._encode(x)[0]

    def embed(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    @property
    def in_warmup(self) -> bool:
        return int(self.steps_done) < int(self.warmup_end)

    def train_step(self, next_batch: BatchFn, rng: torch.Generator) -> dict[str, float]:
        if real_clusters.next_step_in_warmup(self, self.settings.warmup_max_share):
            return self._warmup_step(next_batch, rng)
        return self._gan_step(next_batch, rng)

    def _warmup_step(self, next_batch: BatchFn, rng: torch.Generator) -> dict[str, float]:
        """Encoder alone on a large batch of real data: neighbour agreement and prior matching."""
        s, recipe = self.settings, self.recipe
        batch = real_clusters.warmup_batch(recipe, next_batch().source, rng)
        logs: dict[str, float] = {}
        opt = self.optimizers["e"]
        real_clusters.set_lr(opt, s.warmup_lr)
        views = real_clusters.real_views(recipe, batch, self.neighbours, rng)
        loss = real_clusters.warmup_loss(recipe, self.encoder, s.latent_dim, self.extra_heads, self.head_loss,
                                         views, self.prior.mode_weights(), logs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if not self.in_warmup:  # the last warm-up step: keep the best head, GAN phase at the common rate
            real_clusters.keep_best_head(self.encoder, s.latent_dim, self.extra_heads, self.head_loss)
            real_clusters.set_lr(opt, s.lr)
        return logs

    def _gan_step(self, next_batch: BatchFn, rng: torch.Generator) -> dict[str, float]:
        s = self.settings
        G, D = self.generator_net, self.discriminator
        logs: dict[str, float] = {}

        batch, logs["loss_d"] = train_critic(
            self, next_batch, rng, s.n_critic, lambda _, d_real, d_fake: self.d_loss_fn(d_real, d_fake),
            s.gp_weight if s.loss == "wgan-gp" else 0.0,
        )
        real = batch.x
        z, modes = self.prior.sample(real.shape[0], rng)
        fake = G(z)
        zn_hat, zc_logits = self._encode(fake)
        w = s.fake_cluster_to_encoder
        if w < 1.0:
            # same value and same gradient to G, but only a share w of it reaches the encoder
            frozen = {name: p.detach() for name, p in self.encoder.named_parameters()}
            zc_frozen = functional_call(self.encoder, frozen, (fake,))[:, s.latent_dim :]
            zc_logits = zc_frozen if w == 0.0 else w * zc_logits + (1.0 - w) * zc_frozen
        zn, _ = self.prior.split(z)
        adv = self.g_loss_fn(D(fake))
        loss_zn = F.mse_loss(zn_hat, zn)
        loss_zc = F.cross_entropy(zc_logits, modes)
        loss = adv + s.beta_n * loss_zn + s.beta_c * loss_zc
        if s.uses_real_data:
            loss = loss + self._real_data_loss(batch, rng, logs)
        self.optimizers["g"].zero_grad(set_to_none=True)
        self.optimizers["e"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["g"].step()
        self.optimizers["e"].step()
        logs.update(loss_g=float(adv.detach()), loss_zn=float(loss_zn.detach()), loss_zc=float(loss_zc.detach()))
        return logs

    def prepare(self, data: Tensor) -> None:
        """Build the k-NN graph the agreement term samples neighbours from."""
        self.neighbours = real_clusters.neighbour_graph(self.recipe, data)

    def _real_data_loss(self, batch: Batch, rng: torch.Generator, logs: dict[str, float]) -> Tensor:
        """Recipe terms that teach the encoder's cluster head on real data (see module doc)."""
        views = real_clusters.real_views(self.recipe, batch, self.neighbours, rng, self_label=True)
        return real_clusters.cluster_terms(self.recipe, self.cluster_logits(views), self.prior.mode_weights(), logs,
                                           self_label=True)
