"""``gancluster.PGMGAN``: the estimator around :mod:`gancluster.methods.pgmgan`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import torch
from sklearn.utils.validation import check_is_fitted

from .errors import GanclusterError
from .estimator import GANClusterer, register_estimator
from .methods.pgmgan import PGMGANMethod, PGMGANSettings
from .nets_conditional import is_image28
from .partition.io import save_partitioner

RECIPES = ("best", "faithful")
_SCAN = {"scan_steps": "steps", "scan_lr": "lr", "alpha": "alpha", "beta": "beta", "n_neighbours": "n_neighbours",
         "kmeans_init_steps": "kmeans_init_steps", "self_label_steps": "self_label_steps"}
_TOP = ("n_critic", "lr", "lr_decay", "latent_dim", "guide_end", "guide_reduction", "max_redraws", "d_spectral_norm",
        "ema_decay")


@register_estimator
class PGMGAN(GANClusterer):
    """Partition-Guided mixture of GANs: a partitioner, its guide, one shared conditional G and D.

    Shared parameters as in :class:`gancluster.ClusterGAN`; ``n_clusters`` is the number of
    partitions k and ``priors`` (None = uniform) the target of the partitioner's marginal term
    (sampling uses the partitions' empirical frequencies). ``predict`` is the partitioner's argmax,
    ``transform`` its features, ``sample`` draws partitions by frequency and rejects samples outside
    their partition (up to ``max_redraws`` redraws).

    PGMGAN's knobs: ``partitioner`` ('iresnet': Lipschitz invertible residual net, 'mlp': plain,
    'linear'), ``partitions`` ('learned'; 'random' and 'none' are the ablations), ``guide_weight``
    (lambda at the start, annealed linearly to ``guide_end`` over ``anneal_steps``, default
    ``max_steps``; 0 = Partition GAN), ``features`` ('auto', 'raw', 'simclr', 'pca'),
    ``partitioner_path`` (load a partitioner saved by :meth:`save_partitioner` instead of training
    one), eq. 5's ``alpha`` / ``beta`` / ``n_neighbours`` and step counts, ``net_width`` (the
    32x32 / 48x48 ResNets' channel width ``ch``; None: the recipe's), ``net_hidden`` (the 28x28
    generator's hidden FC width, 0 = none; None: the recipe's), ``d_spectral_norm`` and ``ema_decay``
    (``sample`` draws from a moving average of G's weights with this decay; 0 = G's last weights;
    None: the recipe's). ``recipe='faithful'``
    follows the paper and official code; ``'best'`` is our CPU recipe (see :class:`PGMGANSettings`).
    """

    method_name = "pgmgan"

    def __init__(
        self,
        n_clusters: int = 10,
        *,
        priors: Sequence[float] | None = None,
        recipe: Literal["best", "faithful"] = "best",
        partitioner: Literal["iresnet", "mlp", "linear"] = "iresnet",
        partitions: Literal["learned", "random", "none"] = "learned",
        guide_weight: float = 6.0,
        guide_end: float | None = None,
        guide_reduction: Literal["sum", "mean"] | None = None,
        anneal_steps: int | None = None,
        features: Literal["auto", "raw", "simclr", "pca"] = "auto",
        partitioner_path: str | None = None,
        partition_subset: int = 20000,
        pretext_steps: int | None = None,
        scan_steps: int | None = None,
        scan_lr: float | None = None,
        alpha: float | None = None,
        beta: float | None = None,
        n_neighbours: int | None = None,
        kmeans_init_steps: int | None = None,
        self_label_steps: int | None = None,
        latent_dim: int | None = None,
        n_critic: int | None = None,
        lr: float | None = None,
        lr_decay: bool | None = None,
        max_redraws: int | None = None,
        net_width: int | None = None,
        net_hidden: int | None = None,
        d_spectral_norm: bool | None = None,
        ema_decay: float | None = None,
        batch_size: int = 100,
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
        self.partitioner = partitioner
        self.partitions = partitions
        self.guide_weight = guide_weight
        self.guide_end = guide_end
        self.guide_reduction = guide_reduction
        self.anneal_steps = anneal_steps
        self.features = features
        self.partitioner_path = partitioner_path
        self.partition_subset = partition_subset
        self.pretext_steps = pretext_steps
        self.scan_steps = scan_steps
        self.scan_lr = scan_lr
        self.alpha = alpha
        self.beta = beta
        self.n_neighbours = n_neighbours
        self.kmeans_init_steps = kmeans_init_steps
        self.self_label_steps = self_label_steps
        self.latent_dim = latent_dim
        self.n_critic = n_critic
        self.lr = lr
        self.lr_decay = lr_decay
        self.max_redraws = max_redraws
        self.net_width = net_width
        self.net_hidden = net_hidden
        self.d_spectral_norm = d_spectral_norm
        self.ema_decay = ema_decay
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

    def settings(self, data_shape: tuple[int, ...] = (2,)) -> PGMGANSettings:
        """The resolved method settings for data of ``data_shape``: the recipe's, overridden by non-None parameters."""
        if self.recipe not in RECIPES:
            raise GanclusterError(f"recipe must be one of {RECIPES}, got {self.recipe!r}")
        if isinstance(self.guide_weight, bool) or not isinstance(self.guide_weight, (int, float)) or not self.guide_weight >= 0:
            raise GanclusterError(f"guide_weight (lambda) must be a number >= 0, got {self.guide_weight!r}; "
                                  "0 trains a Partition GAN without the guide")
        if self.guide_end is not None and not self.guide_end >= 0:
            raise GanclusterError(f"guide_end must be >= 0, got {self.guide_end!r}")
        base = PGMGANSettings.best(data_shape) if self.recipe == "best" else PGMGANSettings.faithful()
        top: dict[str, Any] = {name: getattr(self, name) for name in _TOP if getattr(self, name) is not None}
        top["guide_start"] = float(self.guide_weight)
        top["partitions"] = self.partitions
        if self.net_width is not None:
            top["resnet_width"] = int(self.net_width)
        if self.net_hidden is not None:
            top["conv_hidden"] = int(self.net_hidden)
        top["anneal_steps"] = int(self.anneal_steps if self.anneal_steps is not None else self.max_steps)
        scan = {field: getattr(self, name) for name, field in _SCAN.items() if getattr(self, name) is not None}
        pretext = {} if self.pretext_steps is None else {"steps": self.pretext_steps}
        part = dict(kind=self.partitioner, features=self.features, subset=int(self.partition_subset),
                    path=None if self.partitioner_path is None else str(self.partitioner_path))
        settings = replace(base, **top, scan=replace(base.scan, **scan), pretext=replace(base.pretext, **pretext),
                           partitioner=replace(base.partitioner, **part))
        settings.validate()
        return settings

    def _check_params(self) -> None:
        super()._check_params()
        if self.partitions not in ("learned", "random", "none"):
            raise GanclusterError(f"partitions must be 'learned', 'random' or 'none', got {self.partitions!r}")
        self.settings()

    def _pinned_params(self) -> dict[str, Any]:
        if not hasattr(self, "data_shape_"):  # the recipe resolves per data shape: nothing to pin before fit
            return {}
        s = self.settings(self.data_shape_)
        values = {"latent_dim": s.latent_dim, "n_critic": s.n_critic, "lr": s.lr, "lr_decay": s.lr_decay,
                  "guide_reduction": s.guide_reduction, "net_hidden": s.conv_hidden, "ema_decay": s.ema_decay}
        return self._left_to_recipe(values)

    @classmethod
    def _params_before_pinning(cls, params: dict[str, Any], data_shape: tuple[int, ...], version: int) -> dict[str, Any]:
        """Until 2026-11-30 the best recipe gave 28x28 images the settings of the other images (latent
        128, one critic step, lr decay, the paper's sum guide, no hidden layer in G)."""
        if version >= 2 or params.get("recipe", "best") != "best" or not is_image28(tuple(data_shape)):
            return params
        old = {"latent_dim": 128, "n_critic": 1, "lr_decay": True, "guide_reduction": "sum", "net_hidden": 0}
        return {**params, **{k: v for k, v in old.items() if params.get(k) is None}}

    def _build_method(self, data_shape: tuple[int, ...], priors: torch.Tensor) -> PGMGANMethod:
        return PGMGANMethod(self.settings(data_shape), int(self.n_clusters), data_shape, priors)

    # ---- extras ------------------------------------------------------------------------------------
    def save_partitioner(self, path: str | Path) -> Path:
        """Write the fitted partitioner alone, for ``partitioner_path`` of later fits on the same data."""
        check_is_fitted(self, "method_")
        if self.method_.partitioner is None:
            raise GanclusterError(f"partitions={self.partitions!r} has no partitioner to save")
        info = {"seconds": float(self.method_.partitioner_seconds)}
        if len(self.data_shape_) == 1:
            info["standardisation"] = {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}
        return save_partitioner(self.method_.partitioner, path, info)

    @property
    def partition_frequencies_(self):
        """Empirical share of each partition on the training data (what ``sample`` draws from)."""
        check_is_fitted(self, "method_")
        return self.method_.prior.mode_weights().detach().cpu().numpy()
