"""GM-GAN (Ben-Yosef & Weinshall, 2018): a Gaussian-mixture latent, clustering by Algorithm 2.

Unsupervised GM-GAN is a plain GAN whose latent is a mixture of K Gaussians (static or dynamic,
:mod:`gancluster.priors.mixture`). Supervised GM-GAN gives the discriminator N class outputs
(``D(x)_j``: "x is a real sample of class j") and maps Gaussian k to class f(k) (the paper's losses,
:func:`supervised_d_loss` / :func:`supervised_g_loss`; the map for K = N, K > N, K < N is
:func:`default_class_map`). Clustering (Algorithm 2): after the GAN, draw M samples from each
Gaussian, label them by their Gaussian, train a K-way classifier on them and cluster real data with
it. That classifier lives in this module (``classifier``), so it is saved and loaded with the model.

``faithful`` settings follow the slides (standard GAN loss, one D step, static mixture, classifier
from scratch on the generated samples). The recipe switches below are ours, each off in the faithful
recipe and ablated in BENCHMARKS.md. They couple the Gaussians to real clusters, which a GM-GAN
alone has no reason to do (ClusterGAN's slides: "Gaussian components tend to crowd"). They reuse the
real-data inverter of the ClusterGAN recipe, in GM-GAN's own terms: the inverter is a *guide*, a
K-way classifier of the same shape as Algorithm 2's.

- ``real_agreement`` / ``real_prior_match`` / ``warmup_steps``: the guide learns on real data that a
  sample and one of its nearest neighbours (k-NN graph of PCA features) share a cluster
  (``-log <p(x), p(x_nn)>`` on augmented views) and that its batch-mean cluster probabilities match
  the mixture weights; the first ``warmup_steps`` train the guide alone on large batches, with
  ``warmup_heads`` heads of which the lowest-loss one is kept, ending early once
  ``warmup_max_share`` of the run's step or time budget is used (:mod:`gancluster.methods.real_clusters`).
- ``guidance``: the generator's extra loss ``CE(guide(G(z)), k)``. It is supervised GM-GAN's
  generator term with the guide's pseudo-labels standing for the real classes and f the identity:
  Gaussian k must produce what the guide calls cluster k. The guide itself never learns from fakes.
- ``classifier_init='guide'``: Algorithm 2 starts its classifier from the guide instead of from
  scratch (``'scratch'`` is the paper's); ``classifier_augment`` trains it on augmented samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import augment
from ..config import require, to_dict
from ..errors import GanclusterError
from ..losses import ADVERSARIAL, set_requires_grad
from ..nets import NetConfig, build_critic, build_generator
from ..priors.mixture import DELIGAN_SETTINGS, GaussianMixturePrior, check_scale
from . import real_clusters
from .base import Batch, BatchFn, Method, train_critic

PriorKind = Literal["static", "dynamic", "deligan"]


@dataclass
class GMGANSettings:
    """Settings of GM-GAN. Defaults are the best CPU recipe; ``faithful()`` gives the paper's.

    ``c`` / ``sigma`` (None: 1.0 / 0.1, or DeLiGAN's 1.0 / 0.04) shape the mixture; the slides leave
    them to the user. ``std_penalty`` weighs DeLiGAN's ``sum (1 - sigma)^2`` on learned scales.
    ``class_map`` (supervised only) is a K x N 0/1 matrix, None = :func:`default_class_map`.
    """

    latent_dim: int = 30
    prior: PriorKind = "static"
    c: float | None = None
    sigma: float | None = None
    seed: int = 0
    std_penalty: float | None = None
    scale: float = 1.0
    supervised: bool = False
    n_classes: int | None = None
    class_map: list[list[int]] | None = None
    loss: Literal["ns", "wgan-gp", "hinge"] = "ns"
    gp_weight: float = 10.0
    n_critic: int = 1
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    guidance: float = 10.0
    real_agreement: float = 1.0
    real_prior_match: float = 5.0
    real_neighbours: int = 10
    real_augment: bool = True
    warmup_steps: int = 3000
    warmup_batch_size: int = 256
    warmup_lr: float = 1e-3
    warmup_heads: int = 10
    warmup_max_share: float = 0.5
    real_graph: Literal["auto", "pixels", "deskewed", "hog"] = "auto"
    real_confidence: float = 0.0
    samples_per_gaussian: int = 2000
    classifier_steps: int = 600
    classifier_batch_size: int = 256
    classifier_lr: float = 1e-3
    classifier_init: Literal["scratch", "guide"] = "guide"
    classifier_augment: bool = True
    classifier_scale: float = 1.0
    classifier_real_terms: float = 1.0
    net: NetConfig = field(default_factory=NetConfig)

    @classmethod
    def faithful(cls, **overrides: Any) -> "GMGANSettings":
        """The slides' GM-GAN: standard GAN loss, static mixture, Algorithm 2 from scratch."""
        base = dict(
            guidance=0.0, real_agreement=0.0, real_prior_match=0.0, warmup_steps=0,
            classifier_init="scratch", classifier_augment=False, classifier_real_terms=0.0,
        )
        base.update(overrides)
        return cls(**base)

    def resolved_prior(self) -> dict[str, Any]:
        """c, sigma, learnable, diagonal and std_penalty of the chosen prior kind."""
        if self.prior == "deligan":
            out = dict(DELIGAN_SETTINGS, std_penalty=0.01)
        else:
            out = dict(c=1.0, sigma=0.1, learnable=self.prior == "dynamic", diagonal=False, std_penalty=0.0)
        for name in ("c", "sigma", "std_penalty"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    def validate(self) -> None:
        require(self.latent_dim >= 1, f"latent_dim must be >= 1, got {self.latent_dim}")
        require(self.prior in ("static", "dynamic", "deligan"),
                f"prior must be 'static', 'dynamic' or 'deligan', got {self.prior!r}")
        p = self.resolved_prior()
        require(p["c"] >= 0, f"c must be >= 0, got {p['c']}")
        require(p["sigma"] > 0, f"sigma must be > 0 (Sigma_k = sigma * I), got {p['sigma']}")
        require(p["std_penalty"] >= 0, f"std_penalty must be >= 0, got {p['std_penalty']}")
        require(self.scale > 0, f"scale s must be > 0, got {self.scale}")
        require(self.classifier_scale > 0, f"classifier_scale must be > 0, got {self.classifier_scale}")
        require(self.n_classes is None or self.n_classes >= 1, f"n_classes must be >= 1, got {self.n_classes}")
        require(self.n_critic >= 1, f"n_critic must be >= 1, got {self.n_critic}")
        require(self.lr > 0 and self.warmup_lr > 0 and self.classifier_lr > 0, "learning rates must be > 0")
        require(self.real_neighbours >= 1, f"real_neighbours must be >= 1, got {self.real_neighbours}")
        require(self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}")
        require(self.warmup_heads >= 1, f"warmup_heads must be >= 1, got {self.warmup_heads}")
        require(0 < self.warmup_max_share <= 1, f"warmup_max_share must be in (0, 1], got {self.warmup_max_share}")
        require(self.real_confidence >= 0, f"real_confidence must be >= 0, got {self.real_confidence}")
        require(self.real_graph in real_clusters.REAL_GRAPHS,
                f"real_graph must be one of {real_clusters.REAL_GRAPHS}, got {self.real_graph!r}")
        require(self.warmup_batch_size >= 1 and self.classifier_batch_size >= 1, "batch sizes must be >= 1")
        require(self.samples_per_gaussian >= 1, f"samples_per_gaussian must be >= 1, got {self.samples_per_gaussian}")
        require(self.classifier_steps >= 0, f"classifier_steps must be >= 0, got {self.classifier_steps}")
        require(self.warmup_steps == 0 or self.uses_real_data,
                "warmup_steps > 0 trains the guide on real data: it needs real_agreement or real_prior_match > 0")
        require(self.guidance == 0 or self.uses_real_data,
                "guidance > 0 follows a guide trained on real data: set real_agreement or real_prior_match > 0")
        require(self.classifier_real_terms >= 0, f"classifier_real_terms must be >= 0, got {self.classifier_real_terms}")
        require(self.classifier_real_terms == 0 or self.uses_real_data,
                "classifier_real_terms > 0 reuses the guide's real-data terms: set real_agreement or real_prior_match > 0")
        require(self.classifier_init == "scratch" or self.has_guide,
                "classifier_init='guide' needs a guide: set guidance, real_agreement or real_prior_match > 0")
        for name in ("gp_weight", "guidance", "real_agreement", "real_prior_match"):
            require(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        self.net.validate()

    @property
    def uses_real_data(self) -> bool:
        return self.real_agreement > 0 or self.real_prior_match > 0

    @property
    def has_guide(self) -> bool:
        return self.uses_real_data or self.guidance > 0


def default_class_map(n_gaussians: int, n_classes: int) -> Tensor:
    """The Gaussian-to-class map f as a K x N 0/1 matrix.

    K = N: bijective (Gaussian k -> class k). K > N: surjective, Gaussian k -> class k mod N, so each
    class gets K/N Gaussians (room for intra-class diversity). K < N: each Gaussian stands for a group
    of classes (class j belongs to Gaussian j mod K); its samples should look like one of them.
    """
    if n_gaussians < 1 or n_classes < 1:
        raise GanclusterError(f"need K >= 1 Gaussians and N >= 1 classes, got K={n_gaussians}, N={n_classes}")
    m = torch.zeros(n_gaussians, n_classes)
    if n_gaussians >= n_classes:
        m[torch.arange(n_gaussians), torch.arange(n_gaussians) % n_classes] = 1.0
    else:
        m[torch.arange(n_classes) % n_gaussians, torch.arange(n_classes)] = 1.0
    return m


def check_class_map(class_map: Any, n_gaussians: int, n_classes: int) -> Tensor:
    """Validate a user's map: one row per Gaussian, 0/1 entries, every row maps somewhere."""
    m = torch.as_tensor(class_map, dtype=torch.float32)
    if m.shape != (n_gaussians, n_classes):
        raise GanclusterError(
            f"class_map must be a {n_gaussians} x {n_classes} 0/1 matrix (Gaussians x classes), got shape {tuple(m.shape)}"
        )
    if not ((m == 0) | (m == 1)).all() or (m.sum(1) < 1).any():
        raise GanclusterError("class_map entries must be 0 or 1 and every Gaussian must map to at least one class")
    return m


def supervised_d_loss(real_logits: Tensor, labels: Tensor, fake_logits: Tensor) -> Tensor:
    """Supervised GM-GAN's discriminator loss on N sigmoid outputs.

    Real x of class y: ``-log D(x)_y - sum_{m != y} log(1 - D(x)_m)``; fake: ``-sum_m log(1 - D_m)``.
    """
    target = F.one_hot(labels, real_logits.shape[1]).to(real_logits.dtype)
    real = F.binary_cross_entropy_with_logits(real_logits, target, reduction="none").sum(1).mean()
    fake = F.softplus(fake_logits).sum(1).mean()
    return real + fake


def supervised_g_loss(fake_logits: Tensor, targets: Tensor) -> Tensor:
    """Supervised GM-GAN's generator loss: G(z) of Gaussian k should be a real sample of f(k).

    ``targets`` are rows of the class map. For a single class this is the paper's
    ``-log D_f(k) - sum_{m != f(k)} log(1 - D_m)``; for a group of classes (K < N) the first term
    becomes ``-log(1 - prod_{m in f(k)} (1 - D_m))``: some class of the group calls it real.
    """
    log_not = -F.softplus(fake_logits)  # log(1 - D_m)
    others = -(log_not * (1 - targets)).sum(1)
    log_none = (log_not * targets).sum(1)  # log prod_{m in f(k)} (1 - D_m)
    some = -torch.log(-torch.expm1(log_none.clamp_max(-1e-6)))
    return (some + others).mean()


class GMGANMethod(Method):
    name = "gmgan"

    def __init__(
        self, settings: GMGANSettings, n_clusters: int, data_shape: tuple[int, ...], priors: Tensor
    ) -> None:
        super().__init__()
        settings.validate()
        self.settings = settings
        self.n_clusters = n_clusters
        p = settings.resolved_prior()
        self.prior = GaussianMixturePrior(
            n_clusters, settings.latent_dim, c=p["c"], sigma=p["sigma"], weights=priors,
            learnable=p["learnable"], diagonal=p["diagonal"], seed=settings.seed, scale=settings.scale,
        )
        self.std_penalty_weight = float(p["std_penalty"])
        self.generator_net = build_generator(settings.net, settings.latent_dim, data_shape)
        self.n_classes = (settings.n_classes or n_clusters) if settings.supervised else 1
        self.discriminator = build_critic(settings.net, data_shape, self.n_classes,
                                          spectral_norm=settings.net.discriminator_sn(data_shape, settings.loss))
        if settings.supervised:
            cmap = (default_class_map(n_clusters, self.n_classes) if settings.class_map is None
                    else check_class_map(settings.class_map, n_clusters, self.n_classes))
            self.register_buffer("class_map", cmap)
        self.classifier = build_critic(settings.net, data_shape, n_clusters)
        self.guide = build_critic(settings.net, data_shape, n_clusters) if settings.has_guide else None
        self.recipe = real_clusters.RealClusterRecipe.of(settings)
        # extra cluster heads tried during the warm-up; the best one is copied into the guide
        n_extra = self.recipe.extra_heads if self.guide is not None else 0
        self.extra_heads = nn.ModuleList(nn.Linear(self.guide.feature_dim, n_clusters) for _ in range(n_extra))
        self.register_buffer("head_loss", torch.zeros(n_extra + 1))
        self.d_loss_fn, self.g_loss_fn = ADVERSARIAL[settings.loss]
        betas = tuple(settings.betas)
        g_params = list(self.generator_net.parameters()) + list(self.prior.parameters())
        self.optimizers = {
            "g": torch.optim.Adam(g_params, lr=settings.lr, betas=betas),
            "d": torch.optim.Adam(self.discriminator.parameters(), lr=settings.lr, betas=betas),
        }
        if self.guide is not None:
            self.optimizers["guide"] = torch.optim.Adam([*self.guide.parameters(), *self.extra_heads.parameters()],
                                                        lr=settings.lr, betas=betas)
        self.neighbours: Tensor | None = None
        real_clusters.register_phase_state(self, settings.warmup_steps)
        # 1 once Algorithm 2 has trained ``classifier``; until then the guide (if any) clusters
        self.register_buffer("classifier_ready", torch.zeros((), dtype=torch.long))
        self.labels: Tensor | None = None

    def settings_dict(self) -> dict[str, Any]:
        return to_dict(self.settings)

    # ---- supervised data -------------------------------------------------------------------------
    def set_labels(self, labels: Tensor) -> None:
        """Class labels (0..N-1) of the training rows, for supervised GM-GAN."""
        if labels.min() < 0 or labels.max() >= self.n_classes:
            raise GanclusterError(f"labels must lie in [0, {self.n_classes - 1}] for n_classes={self.n_classes}")
        self.labels = labels.long()

    # ---- inference -------------------------------------------------------------------------------
    def _clusterer(self):
        if bool(self.classifier_ready) or self.guide is None:
            return self.classifier
        return self.guide

    def cluster_logits(self, x: Tensor) -> Tensor:
        return self._clusterer()(x)

    def embed(self, x: Tensor) -> Tensor:
        """The clustering classifier's penultimate features (GM-GAN has no latent encoder)."""
        return self._clusterer().features(x)

    @torch.no_grad()
    def generate(
        self, n: int, rng: torch.Generator | None = None, modes: Tensor | None = None, scale: float | None = None
    ) -> tuple[Tensor, Tensor]:
        z, k = self.prior.sample(n, rng, modes, scale=scale)
        return self.generator_net(z), k

    # ---- training --------------------------------------------------------------------------------
    @property
    def in_warmup(self) -> bool:
        return int(self.steps_done) < int(self.warmup_end)

    def prepare(self, data: Tensor) -> None:
        if self.settings.supervised and self.labels is None:
            raise GanclusterError("supervised GM-GAN needs class labels: call fit(X, y) with y")
        if self.labels is not None:
            self.labels = self.labels.to(data.device)
        self.neighbours = real_clusters.neighbour_graph(self.recipe, data)
        self.train_data = data  # for Algorithm 2's real-data terms; not saved

    def train_step(self, next_batch: BatchFn, rng: torch.Generator) -> dict[str, float]:
        if real_clusters.next_step_in_warmup(self, self.settings.warmup_max_share):
            return self._warmup_step(next_batch, rng)
        return self._gan_step(next_batch, rng)

    def _warmup_step(self, next_batch: BatchFn, rng: torch.Generator) -> dict[str, float]:
        """The guide alone on a large batch of real data (recipe; see module doc)."""
        s = self.settings
        batch = real_clusters.warmup_batch(self.recipe, next_batch().source, rng)
        logs: dict[str, float] = {}
        opt = self.optimizers["guide"]
        real_clusters.set_lr(opt, s.warmup_lr)
        views = real_clusters.real_views(self.recipe, batch, self.neighbours, rng)
        loss = real_clusters.warmup_loss(self.recipe, self.guide, 0, self.extra_heads, self.head_loss, views,
                                         self.prior.mode_weights(), logs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if not self.in_warmup:  # the last warm-up step: keep the best head, GAN phase at the common rate
            real_clusters.keep_best_head(self.guide, 0, self.extra_heads, self.head_loss)
            real_clusters.set_lr(opt, s.lr)
        return logs

    def _gan_step(self, next_batch: BatchFn, rng: torch.Generator) -> dict[str, float]:
        s = self.settings
        G, D = self.generator_net, self.discriminator
        logs: dict[str, float] = {}
        if s.supervised:
            def critic_loss(b: Batch, d_real: Tensor, d_fake: Tensor) -> Tensor:
                return supervised_d_loss(d_real, self.labels[b.index], d_fake)
        else:
            def critic_loss(b: Batch, d_real: Tensor, d_fake: Tensor) -> Tensor:
                return self.d_loss_fn(d_real, d_fake)
        gp = s.gp_weight if s.loss == "wgan-gp" and not s.supervised else 0.0
        batch, logs["loss_d"] = train_critic(self, next_batch, rng, s.n_critic, critic_loss, gp)
        real = batch.x
        z, modes = self.prior.sample(real.shape[0], rng)
        fake = G(z)
        if s.supervised:
            adv = supervised_g_loss(D(fake), self.class_map[modes])
        else:
            adv = self.g_loss_fn(D(fake))
        loss = adv
        if self.std_penalty_weight > 0:
            loss = loss + self.std_penalty_weight * self.prior.std_penalty()
        if s.guidance > 0:
            set_requires_grad(self.guide, False)
            guide_ce = F.cross_entropy(self.guide(fake), modes)
            set_requires_grad(self.guide, True)
            loss = loss + s.guidance * guide_ce
            logs["loss_guide_fake"] = float(guide_ce.detach())
        if s.uses_real_data:
            loss = loss + self._real_data_loss(batch, rng, logs)
        self.optimizers["g"].zero_grad(set_to_none=True)
        if self.guide is not None:
            self.optimizers["guide"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["g"].step()
        if self.guide is not None and s.uses_real_data:
            self.optimizers["guide"].step()
        logs["loss_g"] = float(adv.detach())
        return logs

    def _real_data_loss(self, batch: Batch, rng: torch.Generator, logs: dict[str, float],
                        net: torch.nn.Module | None = None) -> Tensor:
        """Neighbour agreement and prior matching of the guide (or ``net``) on real data (recipe)."""
        net = self.guide if net is None else net
        views = real_clusters.real_views(self.recipe, batch, self.neighbours, rng)
        return real_clusters.cluster_terms(self.recipe, net(views), self.prior.mode_weights(), logs)

    # ---- Algorithm 2 -----------------------------------------------------------------------------
    @torch.no_grad()
    def generated_training_set(self, rng: torch.Generator, per_gaussian: int | None = None,
                               scale: float | None = None) -> tuple[Tensor, Tensor]:
        """M samples from each Gaussian, labelled by their Gaussian (Algorithm 2, lines 2-6)."""
        m = self.settings.samples_per_gaussian if per_gaussian is None else per_gaussian
        s = self.settings.classifier_scale if scale is None else check_scale(scale)
        was_training = self.training
        self.eval()
        xs, ys = [], []
        dev = self.prior.weights.device
        for k in range(self.n_clusters):
            for start in range(0, m, 1024):
                n = min(1024, m - start)
                modes = torch.full((n,), k, dtype=torch.long, device=dev)
                x, _ = self.generate(n, rng, modes, scale=s)
                xs.append(x)
                ys.append(modes)
        self.train(was_training)
        return torch.cat(xs), torch.cat(ys)

    def fit_classifier(self, rng: torch.Generator) -> dict[str, float]:
        """Algorithm 2, line 7: train the K-way classifier on the generated, Gaussian-labelled set."""
        s = self.settings
        x_gen, y_gen = self.generated_training_set(rng)
        net = self.classifier
        if s.classifier_init == "guide":
            net.load_state_dict(self.guide.state_dict())
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=s.classifier_lr)
        loss = torch.zeros(())
        real = getattr(self, "train_data", None) if s.classifier_real_terms > 0 else None
        logs: dict[str, float] = {}
        for _ in range(s.classifier_steps):
            idx = torch.randint(0, x_gen.shape[0], (min(s.classifier_batch_size, x_gen.shape[0]),),
                                generator=rng, device=x_gen.device)
            xb = x_gen[idx]
            if s.classifier_augment:
                xb = augment(xb, rng)
            loss = F.cross_entropy(net(xb), y_gen[idx])
            if real is not None:  # recipe: the real-data terms keep the classifier on real data's clusters
                ridx = torch.randint(0, real.shape[0], (min(s.classifier_batch_size, real.shape[0]),),
                                     generator=rng, device=real.device)
                loss = loss + s.classifier_real_terms * self._real_data_loss(Batch(real[ridx], ridx, real), rng, logs, net)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        net.eval()
        self.classifier_ready.fill_(1)
        with torch.no_grad():
            check = torch.randperm(x_gen.shape[0], generator=torch.Generator().manual_seed(0))[:4096].to(x_gen.device)
            train_acc = float((net(x_gen[check]).argmax(1) == y_gen[check]).float().mean())
        return {"classifier_loss": float(loss.detach()), "classifier_fit_acc": train_acc,
                "classifier_samples": int(x_gen.shape[0])}
