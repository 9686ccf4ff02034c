"""``gancluster.NEMGAN``: the estimator around :mod:`gancluster.methods.nemgan`.

Known cluster priors go in ``priors`` (condition C3). Unknown priors are learned from a few labels
(paper 000, section III-B2) with ``learn_priors=True`` and scikit-learn's semi-supervised label
convention: ``fit(X, y)`` where ``y[i]`` is the cluster of sample ``i`` or ``-1`` when unlabelled::

    y = np.full(len(X), -1); y[labelled_idx] = labels          # e.g. 1% of the data
    model = NEMGAN(n_clusters=2, learn_priors=True).fit(X, y)
    model.priors_                                             # the learned mode masses

``label_fraction=f`` keeps only a seeded random ``f`` share of the given labels (the rest count as
unlabelled), which is how benchmarks and the CLI, whose datasets come fully labelled, run the
paper's "1% of labels" setting. Without ``learn_priors``, ``y`` is ignored (clustering is unsupervised).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from .config import ConfigError
from .errors import GanclusterError
from .estimator import GANClusterer, hinge_gan_settings, register_estimator, with_ns_gan_settings
from .methods.nemgan import NEMGANMethod, NEMGANSettings

RECIPES = ("best", "faithful")
_OVERRIDABLE = ("beta_z", "loss", "n_critic", "lr", "real_agreement", "real_prior_match", "warmup_steps",
                "warmup_heads", "warmup_max_share", "prior_loss", "prior_lr", "fake_cluster_to_inverter", "real_graph",
                "real_confidence", "real_self_label", "real_spectral", "conditional_critic", "standardize_noise",
                "inverter_arch")
# the best recipe's switches on vectors until pinning 5 (the paper's path: h learns from generated data only)
_VECTOR_PATH_BEFORE_V5 = {"real_agreement": 0.0, "real_prior_match": 0.0, "warmup_steps": 0,
                          "fake_cluster_to_inverter": 1.0}


@register_estimator
class NEMGAN(GANClusterer):
    """Cluster and generate with NEMGAN: latent ``z = y + nu`` with learnable mode masses, inverter ``h``.

    Parameters shared by every gancluster estimator: ``n_clusters``, ``priors`` (None = uniform),
    ``random_state``, the budget ``max_steps`` / ``max_seconds``, ``device``, ``batch_size``,
    ``assign`` ('encoder': argmax of the model's cluster scores; 'kmeans': k-means on ``z_hat``,
    the authors' evaluation) and ``verbose``.

    ``learn_priors``: learn the priors from labelled samples passed as ``y`` (``-1`` = unlabelled);
    ``priors`` then only initialise them (default uniform, as in the paper). ``label_fraction``
    keeps a random share of the given labels. ``multimodal`` / ``inverter`` switch conditions C1 /
    C2 off for the ablation of Table I (C3 off = uniform priors); a model without a multimodal
    latent needs ``assign='kmeans'`` if it has an inverter. ``recipe='faithful'`` follows the
    authors' code; ``recipe='best'`` is our CPU recipe (see :class:`NEMGANSettings`). Settings left
    at ``None`` take the recipe's value. ``arch`` / ``net_width`` / ``d_spectral_norm`` choose the
    networks (:class:`gancluster.nets.NetConfig`: e.g. the SN-GAN ResNets of 32x32 / 48x48 images);
    ``inverter_arch`` gives ``h`` its own (e.g. ``'conv28-wide'``: on FMNIST-5 it lifted ACC from 0.914
    to 0.919 at four times the run time; ``'conv28-xwide'`` to 0.920, with generated shares further
    from the priors; BENCHMARKS.md).
    ``loss`` / ``n_critic`` / ``d_spectral_norm`` / ``standardize_noise`` set the GAN (the best recipe
    on images: hinge, 2 critic steps, spectral norm, G reading the noise at unit scale).
    ``real_self_label`` weighs SCAN's self-labelling of ``h`` on real data in the GAN phase (off in
    both recipes; on FMNIST-5 it did not raise the accuracy).
    """

    method_name = "nemgan"

    def __init__(
        self,
        n_clusters: int = 10,
        *,
        priors: Sequence[float] | None = None,
        learn_priors: bool = False,
        label_fraction: float | None = None,
        recipe: Literal["best", "faithful"] = "best",
        latent_dim: int = 50,
        noise: float = 0.3,
        beta_z: float | None = None,
        beta_y: float = 1.0,
        multimodal: bool = True,
        inverter: bool = True,
        loss: str | None = None,
        n_critic: int | None = None,
        lr: float | None = None,
        arch: str | None = None,
        net_width: int | None = None,
        d_spectral_norm: bool | None = None,
        inverter_arch: str | None = None,
        real_agreement: float | None = None,
        real_prior_match: float | None = None,
        fake_cluster_to_inverter: float | None = None,
        warmup_steps: int | None = None,
        warmup_heads: int | None = None,
        warmup_max_share: float | None = None,
        real_graph: str | None = None,
        real_confidence: float | None = None,
        real_self_label: float | None = None,
        real_spectral: float | None = None,
        conditional_critic: bool | None = None,
        standardize_noise: bool | None = None,
        prior_loss: str | None = None,
        prior_lr: float | None = None,
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
        self.learn_priors = learn_priors
        self.label_fraction = label_fraction
        self.recipe = recipe
        self.latent_dim = latent_dim
        self.noise = noise
        self.beta_z = beta_z
        self.beta_y = beta_y
        self.multimodal = multimodal
        self.inverter = inverter
        self.loss = loss
        self.n_critic = n_critic
        self.lr = lr
        self.arch = arch
        self.net_width = net_width
        self.d_spectral_norm = d_spectral_norm
        self.inverter_arch = inverter_arch
        self.real_agreement = real_agreement
        self.real_prior_match = real_prior_match
        self.fake_cluster_to_inverter = fake_cluster_to_inverter
        self.warmup_steps = warmup_steps
        self.warmup_heads = warmup_heads
        self.warmup_max_share = warmup_max_share
        self.real_graph = real_graph
        self.real_confidence = real_confidence
        self.real_self_label = real_self_label
        self.real_spectral = real_spectral
        self.conditional_critic = conditional_critic
        self.standardize_noise = standardize_noise
        self.prior_loss = prior_loss
        self.prior_lr = prior_lr
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

    # ---- settings --------------------------------------------------------------------------------
    def settings(self, data_shape: tuple[int, ...] | None = None) -> NEMGANSettings:
        """The resolved method settings: the recipe's, overridden by parameters that are not None.

        The best recipe depends on the data: ``h`` learns clusters from real data on both (module
        doc of :mod:`gancluster.methods.nemgan`), and vectors (``data_shape`` of length 1) take
        :meth:`NEMGANSettings.best_vectors`'s plain GAN and short warm-up.
        """
        if self.recipe not in RECIPES:
            raise GanclusterError(f"recipe must be one of {RECIPES}, got {self.recipe!r}")
        if self.recipe == "faithful":
            base = NEMGANSettings.faithful()
        elif data_shape is not None and len(data_shape) == 1:
            base = NEMGANSettings.best_vectors()
        else:
            base = NEMGANSettings()
        overrides: dict[str, Any] = dict(
            latent_dim=self.latent_dim, noise=self.noise, beta_y=self.beta_y,
            multimodal=bool(self.multimodal), inverter=bool(self.inverter),
        )
        for name in _OVERRIDABLE:
            if getattr(self, name) is not None:
                overrides[name] = getattr(self, name)
        if not (self.multimodal and self.inverter):
            # the recipe's real-data terms and warm-up train the cluster head, which needs C1 and C2
            if self.warmup_steps:
                raise ConfigError("warmup_steps > 0 needs multimodal=True and inverter=True")
            overrides["warmup_steps"] = 0
            # so is the conditional critic, which reads real clusters from the cluster head
            if self.conditional_critic:
                raise ConfigError("conditional_critic=True needs multimodal=True and inverter=True")
            overrides["conditional_critic"] = False
        for name, value in overrides.items():
            setattr(base, name, value)
        if self.conditional_critic is None and base.loss == "wgan-gp":
            base.conditional_critic = False  # the recipe's default; it has no gradient penalty
        base.net = base.net.with_overrides(arch=self.arch, width=self.net_width, d_spectral_norm=self.d_spectral_norm)
        if base.loss not in ("wgan-gp", "ns", "hinge"):
            raise ConfigError(f"loss must be 'wgan-gp', 'ns' or 'hinge', got {base.loss!r}")
        if base.prior_loss not in ("l1", "kl"):
            raise ConfigError(f"prior_loss must be 'l1' (eq. 5) or 'kl' (authors' code), got {base.prior_loss!r}")
        base.validate()
        return base

    def _check_params(self) -> None:
        super()._check_params()
        if not isinstance(self.learn_priors, (bool, np.bool_)):
            raise GanclusterError(f"learn_priors must be True or False, got {self.learn_priors!r}")
        if self.label_fraction is not None:
            f = self.label_fraction
            if isinstance(f, bool) or not isinstance(f, (int, float, np.floating)) or not 0 < f <= 1:
                raise GanclusterError(f"label_fraction must be a number in (0, 1], got {f!r}")
        if self.learn_priors and not (self.multimodal and self.inverter):
            raise GanclusterError("learn_priors needs multimodal=True and inverter=True (conditions C1 and C2)")
        if self.multimodal is False and self.inverter and self.assign != "kmeans":
            raise GanclusterError(
                "a one-mode latent has no cluster head: with multimodal=False and inverter=True use assign='kmeans'"
            )
        if not self.inverter and self.assign == "kmeans":
            raise GanclusterError("assign='kmeans' clusters the inverter's output; with inverter=False use 'encoder'")
        self.settings()  # validates the rest

    def _pinned_params(self) -> dict[str, Any]:
        if not hasattr(self, "data_shape_"):  # the recipe resolves per data shape: nothing to pin before fit
            return {}
        s = self.settings(self.data_shape_)
        real_data_path = {name: getattr(s, name) for name in _VECTOR_PATH_BEFORE_V5}
        return self._left_to_recipe({**hinge_gan_settings(s), **real_data_path})

    @classmethod
    def _params_before_pinning(cls, params: dict[str, Any], data_shape: tuple[int, ...], version: int) -> dict[str, Any]:
        """Files of older recipes left these at None: until pinning 3 the best recipe trained
        images with the NS loss, one critic step, no spectral norm in conv critics and unscaled
        noise; until pinning 5 it trained vectors without the real-data path (no warm-up, so no
        extra heads in the weights)."""
        if params.get("recipe", "best") != "best":
            return params
        if len(data_shape) == 1:
            if version >= 5:
                return params
            return {**params, **{k: v for k, v in _VECTOR_PATH_BEFORE_V5.items() if params.get(k) is None}}
        if version >= 3:
            return params
        return with_ns_gan_settings(params, data_shape)

    # ---- labels for prior learning ---------------------------------------------------------------
    def _labeled_indices(self, y: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Validate semi-supervised labels (``-1`` = unlabelled); return labelled indices and labels."""
        if y is None:
            raise GanclusterError(
                "learn_priors=True needs labels: call fit(X, y) with y[i] the cluster of sample i or -1 if unlabelled"
            )
        arr = np.asarray(y)
        if arr.ndim != 1 or arr.shape[0] != n:
            raise GanclusterError(f"y must be 1-D with one entry per sample ({n}), got shape {arr.shape}")
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise GanclusterError("y must hold integer cluster ids (or -1 for unlabelled samples)")
        elif arr.dtype.kind not in "iub":
            raise GanclusterError(f"y must hold integer cluster ids (or -1 for unlabelled), got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        k = int(self.n_clusters)
        bad = arr[(arr < -1) | (arr >= k)]
        if bad.size:
            raise GanclusterError(
                f"label {int(bad[0])} is outside the cluster range: labels must be in [0, {k - 1}] or -1 (unlabelled)"
            )
        idx = np.flatnonzero(arr >= 0)
        if self.label_fraction is not None and idx.size:
            rng = np.random.default_rng(self._seed())
            keep = int(round(float(self.label_fraction) * idx.size))
            idx = np.sort(rng.choice(idx, size=keep, replace=False))
        if idx.size < k:
            raise GanclusterError(
                f"prior learning got {idx.size} labelled sample(s) for {k} clusters; label at least one sample "
                "per cluster (raise label_fraction or label more samples)"
            )
        missing = sorted(set(range(k)) - set(arr[idx].tolist()))
        if missing:
            raise GanclusterError(
                f"no labelled sample of cluster(s) {missing}; prior learning needs at least one label per cluster"
            )
        return idx, arr[idx]

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        eval_set: tuple[Any, Any] | None = None,
        run_dir: str | Path | None = None,
        resume: bool = False,
    ) -> "NEMGAN":
        """Train on ``X``. With ``learn_priors``, ``y`` gives the labelled few (``-1`` = unlabelled)."""
        self._check_params()
        self._pending_labels = None
        if self.learn_priors:
            X_checked = self._validate_X(X, reset=True)
            idx, labels = self._labeled_indices(y, X_checked.shape[0])
            self._pending_labels = (X_checked[idx], labels, idx)
            self.n_labeled_ = int(idx.size)
        try:
            super().fit(X, eval_set=eval_set, run_dir=run_dir, resume=resume)
        finally:
            self._pending_labels = None
        return self

    def _build_method(self, data_shape: tuple[int, ...], priors: torch.Tensor) -> NEMGANMethod:
        method = NEMGANMethod(self.settings(data_shape), int(self.n_clusters), data_shape, priors,
                              learn_priors=bool(self.learn_priors))
        pending = getattr(self, "_pending_labels", None)
        if pending is not None:
            x_l, y_l, idx = pending
            method.set_labeled(self._to_model_space(x_l), torch.from_numpy(y_l), torch.from_numpy(idx))
        return method
