"""``gancluster.GMGAN``: the estimator around :mod:`gancluster.methods.gmgan`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .config import ConfigError
from .errors import GanclusterError
from .estimator import GANClusterer, register_estimator
from .methods.gmgan import GMGANMethod, GMGANSettings
from .priors.mixture import check_scale

RECIPES = ("best", "faithful")
_OVERRIDABLE = (
    "c", "sigma", "loss", "n_critic", "lr", "guidance", "real_agreement", "real_prior_match", "warmup_steps",
    "warmup_heads", "warmup_max_share", "samples_per_gaussian", "classifier_steps", "classifier_init",
    "classifier_augment", "std_penalty", "classifier_real_terms", "real_graph", "real_confidence",
)


@register_estimator
class GMGAN(GANClusterer):
    """Cluster with GM-GAN: a Gaussian-mixture latent, then Algorithm 2 (a classifier on generated data).

    Shared parameters as in :class:`gancluster.ClusterGAN` (``n_clusters`` is K, the number of
    Gaussians; ``priors`` are the mixture weights; ``assign='encoder'`` means the argmax of the
    Algorithm-2 classifier, ``'kmeans'`` k-means on its penultimate features).

    GM-GAN's knobs: ``prior`` ('static': means ~ U[-c, c]^d, Sigma = sigma I; 'dynamic': learned
    mu_k, A_k; 'deligan': dynamic and diagonal with DeLiGAN's settings), ``latent_dim``, ``c``,
    ``sigma``, ``scale`` (the quality-diversity knob s used by :meth:`sample`), ``samples_per_gaussian``
    (M of Algorithm 2), ``classifier_real_terms`` (recipe: Algorithm 2's classifier keeps the
    guide's real-data terms). ``supervised=True`` trains the supervised GM-GAN on ``fit(X, y)`` with
    ``n_classes`` classes (None: N = K) and a Gaussian-to-class map ``class_map`` (K x N 0/1 matrix,
    None: the default map for K = N, K > N or K < N). ``recipe='faithful'`` follows the slides;
    ``recipe='best'`` adds the guide of :mod:`gancluster.methods.gmgan` (each part switchable here).
    ``arch`` / ``net_width`` / ``d_spectral_norm`` choose the networks (:class:`gancluster.nets.NetConfig`).
    """

    method_name = "gmgan"

    def __init__(
        self,
        n_clusters: int = 10,
        *,
        priors: Sequence[float] | None = None,
        recipe: Literal["best", "faithful"] = "best",
        prior: Literal["static", "dynamic", "deligan"] = "static",
        latent_dim: int = 30,
        c: float | None = None,
        sigma: float | None = None,
        scale: float = 1.0,
        supervised: bool = False,
        n_classes: int | None = None,
        class_map: Sequence[Sequence[int]] | None = None,
        loss: str | None = None,
        n_critic: int | None = None,
        lr: float | None = None,
        arch: str | None = None,
        net_width: int | None = None,
        d_spectral_norm: bool | None = None,
        guidance: float | None = None,
        real_agreement: float | None = None,
        real_prior_match: float | None = None,
        warmup_steps: int | None = None,
        warmup_heads: int | None = None,
        warmup_max_share: float | None = None,
        real_graph: str | None = None,
        real_confidence: float | None = None,
        samples_per_gaussian: int | None = None,
        classifier_steps: int | None = None,
        classifier_init: str | None = None,
        classifier_augment: bool | None = None,
        classifier_real_terms: float | None = None,
        std_penalty: float | None = None,
        batch_size: int = 64,
        max_steps: int = 5000,
        max_seconds: float | None = None,
        assign: Literal["encoder", "kmeans"] = "encoder",
        device: str = "auto",
        random_state: int | None = None,
        verbose: int = 0,
        checkpoint_every: int | None = None,
        on_divergence: Literal["stop", "rollback"] = "stop",
        max_rollbacks: int = 3,
        amp: Literal["off", "bf16", "auto"] = "off",
        deterministic: bool = False,
    ) -> None:
        self.n_clusters = n_clusters
        self.priors = priors
        self.recipe = recipe
        self.prior = prior
        self.latent_dim = latent_dim
        self.c = c
        self.sigma = sigma
        self.scale = scale
        self.supervised = supervised
        self.n_classes = n_classes
        self.class_map = class_map
        self.loss = loss
        self.n_critic = n_critic
        self.lr = lr
        self.arch = arch
        self.net_width = net_width
        self.d_spectral_norm = d_spectral_norm
        self.guidance = guidance
        self.real_agreement = real_agreement
        self.real_prior_match = real_prior_match
        self.warmup_steps = warmup_steps
        self.warmup_heads = warmup_heads
        self.warmup_max_share = warmup_max_share
        self.real_graph = real_graph
        self.real_confidence = real_confidence
        self.samples_per_gaussian = samples_per_gaussian
        self.classifier_steps = classifier_steps
        self.classifier_init = classifier_init
        self.classifier_augment = classifier_augment
        self.classifier_real_terms = classifier_real_terms
        self.std_penalty = std_penalty
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.max_seconds = max_seconds
        self.assign = assign
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint_every = checkpoint_every
        self.on_divergence = on_divergence
        self.max_rollbacks = max_rollbacks
        self.amp = amp
        self.deterministic = deterministic

    # ---- settings ----------------------------------------------------------------------------------
    def _check_params(self) -> None:
        super()._check_params()
        check_scale(self.scale)
        if self.c is not None and not (isinstance(self.c, (int, float)) and self.c >= 0):
            raise GanclusterError(f"c (means ~ U[-c, c]^d) must be a number >= 0, got {self.c!r}")
        if self.sigma is not None and not (isinstance(self.sigma, (int, float)) and self.sigma > 0):
            raise GanclusterError(f"sigma (Sigma_k = sigma * I) must be > 0, got {self.sigma!r}")

    def settings(self) -> GMGANSettings:
        """The resolved method settings: the recipe's, overridden by parameters that are not None."""
        if self.recipe not in RECIPES:
            raise GanclusterError(f"recipe must be one of {RECIPES}, got {self.recipe!r}")
        base = GMGANSettings.faithful() if self.recipe == "faithful" else GMGANSettings()
        base.latent_dim = int(self.latent_dim)
        base.prior = self.prior
        base.scale = float(self.scale)
        base.supervised = bool(self.supervised)
        base.n_classes = None if self.n_classes is None else int(self.n_classes)
        base.class_map = None if self.class_map is None else [[int(v) for v in row] for row in self.class_map]
        for name in _OVERRIDABLE:
            if getattr(self, name) is not None:
                setattr(base, name, getattr(self, name))
        base.net = base.net.with_overrides(arch=self.arch, width=self.net_width, d_spectral_norm=self.d_spectral_norm)
        if base.loss not in ("wgan-gp", "ns", "hinge"):
            raise ConfigError(f"loss must be 'wgan-gp', 'ns' or 'hinge', got {base.loss!r}")
        if base.classifier_init not in ("scratch", "guide"):
            raise ConfigError(f"classifier_init must be 'scratch' or 'guide', got {base.classifier_init!r}")
        base.validate()
        if base.classifier_steps == 0 and not base.has_guide:
            raise ConfigError("classifier_steps=0 skips Algorithm 2, which leaves nothing to cluster with "
                              "unless the best recipe's guide is on; set classifier_steps > 0")
        return base

    def _build_method(self, data_shape: tuple[int, ...], priors: torch.Tensor) -> GMGANMethod:
        method = GMGANMethod(self.settings(), int(self.n_clusters), data_shape, priors)
        labels = getattr(self, "_fit_labels", None)
        if labels is not None:
            method.set_labels(labels)
        return method

    # ---- fitting -----------------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        eval_set: tuple[Any, Any] | None = None,
        run_dir: str | Path | None = None,
        resume: bool = False,
    ) -> "GMGAN":
        """Train the GM-GAN on ``X``, then run Algorithm 2 (the classifier that ``predict`` uses).

        ``y`` is used only by the supervised GM-GAN (class labels), and ignored otherwise.
        """
        self._fit_labels = self._encode_labels(X, y) if self.supervised else None
        try:
            super().fit(X, y, eval_set=eval_set, run_dir=run_dir, resume=resume)
        finally:
            self._fit_labels = None
        s = self.method_.settings
        if s.classifier_steps > 0:
            rng = torch.Generator(device=self.device_).manual_seed(self._seed() + 2)
            self.classifier_log_ = self.method_.fit_classifier(rng)
            data = self._prepare(X)  # a memory map stays on disk
            if self.assign == "kmeans":
                from sklearn.cluster import KMeans

                km = KMeans(self.n_clusters, n_init=10, random_state=self._seed()).fit(self._embed(data))
                self.kmeans_centers_ = km.cluster_centers_.astype(np.float32)
            self.labels_ = self._assign(data)
            if eval_set is not None:
                from .metrics import evaluate_clustering

                pred = self.predict(eval_set[0])
                scores = {k: round(v, 4) for k, v in evaluate_clustering(np.asarray(eval_set[1]), pred).items()}
                self.history_.append({"step": self.n_iter_, "phase": "algorithm2", "eval": scores})
        return self

    def _encode_labels(self, X: Any, y: Any) -> torch.Tensor:
        if y is None:
            raise GanclusterError("supervised=True trains on class labels: call fit(X, y) with y")
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != len(X):
            raise GanclusterError(f"y must be a 1-D array with one label per row of X ({len(X)}), got shape {y.shape}")
        classes, codes = np.unique(y, return_inverse=True)
        n = self.n_clusters if self.n_classes is None else int(self.n_classes)
        if classes.size > n:
            raise GanclusterError(
                f"y has {classes.size} classes but n_classes={n}; set n_classes to the number of classes"
            )
        self.classes_ = classes
        return torch.as_tensor(codes, dtype=torch.long)

    # ---- generation --------------------------------------------------------------------------------
    def sample(self, n_samples: int = 1, cluster: int | None = None, random_state: int | None = None,
               scale: float | None = None):
        """Generate ``(X, y)`` as :meth:`GANClusterer.sample`; ``scale`` is the knob s for this call
        (z | k ~ N(mu_k, s Sigma_k); s < 1: higher quality, lower diversity). None: the ``scale`` param.
        """
        if scale is None:
            return super().sample(n_samples, cluster, random_state)
        s = check_scale(scale)
        prior = self.method_.prior if hasattr(self, "method_") else None
        if prior is None:
            return super().sample(n_samples, cluster, random_state)  # raises NotFittedError
        old = prior.scale
        prior.scale = s
        try:
            return super().sample(n_samples, cluster, random_state)
        finally:
            prior.scale = old

    def generated_training_set(self, per_gaussian: int, scale: float | None = None, random_state: int = 0):
        """Algorithm 2's labelled set: ``per_gaussian`` samples of each Gaussian, in the data's space."""
        check_is_fitted(self, "method_")
        rng = torch.Generator(device=self.device_).manual_seed(int(random_state))
        x, k = self.method_.generated_training_set(rng, int(per_gaussian), scale)
        return self._from_model_space(x), k.cpu().numpy()

