"""``gancluster.ClusterGAN``: the estimator around :mod:`gancluster.methods.clustergan`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch

from .config import ConfigError
from .errors import GanclusterError
from .estimator import GANClusterer, hinge_gan_settings, register_estimator, with_ns_gan_settings
from .methods.clustergan import ClusterGANMethod, ClusterGANSettings

RECIPES = ("best", "faithful")
#: Parameters that, when not None, override the recipe's value of the same setting.
RECIPE_SWITCHES = ("loss", "n_critic", "lr", "real_agreement", "real_prior_match", "real_augment",
                   "fake_cluster_to_encoder", "warmup_steps", "warmup_heads", "warmup_max_share",
                   "real_self_label", "real_graph", "real_confidence", "standardize_noise")


@register_estimator
class ClusterGAN(GANClusterer):
    """Cluster with ClusterGAN: latent ``[z_n, one-hot]``, generator, discriminator, encoder.

    Parameters shared by every gancluster estimator: ``n_clusters``, ``priors`` (None = uniform),
    ``random_state``, the budget ``max_steps`` / ``max_seconds``, ``device``, ``batch_size``,
    ``assign`` ('encoder': argmax of the encoder's cluster head; 'kmeans': k-means on its output,
    the official evaluation) and ``verbose``.

    ``recipe='faithful'`` follows the paper and official code (WGAN-GP, 5 critic steps, full-size
    nets); ``recipe='best'`` is our CPU recipe (see :class:`ClusterGANSettings`). Any setting left at
    ``None`` takes the recipe's value; ``beta_n``, ``beta_c``, ``sigma``, ``latent_dim`` are the
    paper's knobs. ``arch`` / ``net_width`` / ``d_spectral_norm`` choose the networks
    (:class:`gancluster.nets.NetConfig`: e.g. the SN-GAN ResNets of 32x32 / 48x48 images and their width).
    ``standardize_noise`` feeds the generator ``z_n / sigma`` (the prior is unchanged); with the
    hinge loss, two critic steps and a spectral-normalised discriminator it is how the best recipe
    keeps the generator varied inside each mode (see
    :class:`~gancluster.methods.clustergan.ClusterGANSettings`). ``save`` writes these four as
    resolved values, so a saved model reloads with the networks it was trained with.
    """

    method_name = "clustergan"

    def __init__(
        self,
        n_clusters: int = 10,
        *,
        priors: Sequence[float] | None = None,
        recipe: Literal["best", "faithful"] = "best",
        latent_dim: int = 30,
        sigma: float = 0.1,
        beta_n: float = 10.0,
        beta_c: float = 10.0,
        loss: str | None = None,
        n_critic: int | None = None,
        lr: float | None = None,
        arch: str | None = None,
        net_width: int | None = None,
        d_spectral_norm: bool | None = None,
        real_agreement: float | None = None,
        real_prior_match: float | None = None,
        real_augment: bool | None = None,
        fake_cluster_to_encoder: float | None = None,
        warmup_steps: int | None = None,
        warmup_heads: int | None = None,
        warmup_max_share: float | None = None,
        real_self_label: float | None = None,
        real_graph: str | None = None,
        real_confidence: float | None = None,
        standardize_noise: bool | None = None,
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
        self.latent_dim = latent_dim
        self.sigma = sigma
        self.beta_n = beta_n
        self.beta_c = beta_c
        self.loss = loss
        self.n_critic = n_critic
        self.lr = lr
        self.arch = arch
        self.net_width = net_width
        self.d_spectral_norm = d_spectral_norm
        self.real_agreement = real_agreement
        self.real_prior_match = real_prior_match
        self.real_augment = real_augment
        self.fake_cluster_to_encoder = fake_cluster_to_encoder
        self.warmup_steps = warmup_steps
        self.warmup_heads = warmup_heads
        self.warmup_max_share = warmup_max_share
        self.real_self_label = real_self_label
        self.real_graph = real_graph
        self.real_confidence = real_confidence
        self.standardize_noise = standardize_noise
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

    def settings(self) -> ClusterGANSettings:
        """The resolved method settings: the recipe's, overridden by parameters that are not None."""
        if self.recipe not in RECIPES:
            raise GanclusterError(f"recipe must be one of {RECIPES}, got {self.recipe!r}")
        base = ClusterGANSettings.faithful() if self.recipe == "faithful" else ClusterGANSettings()
        overrides = dict(latent_dim=self.latent_dim, sigma=self.sigma, beta_n=self.beta_n, beta_c=self.beta_c)
        for name in RECIPE_SWITCHES:
            if getattr(self, name) is not None:
                overrides[name] = getattr(self, name)
        for name, value in overrides.items():
            setattr(base, name, value)
        base.net = base.net.with_overrides(arch=self.arch, width=self.net_width, d_spectral_norm=self.d_spectral_norm)
        if base.loss not in ("wgan-gp", "ns", "hinge"):
            raise ConfigError(f"loss must be 'wgan-gp', 'ns' or 'hinge', got {base.loss!r}")
        base.validate()
        return base

    def _check_params(self) -> None:
        super()._check_params()
        self.settings()

    def _pinned_params(self) -> dict[str, Any]:
        return self._left_to_recipe(hinge_gan_settings(self.settings()))

    @classmethod
    def _params_before_pinning(cls, params: dict[str, Any], data_shape: tuple[int, ...], version: int) -> dict[str, Any]:
        """Until 2026-11-29 the best recipe trained with the NS loss, one critic step, unscaled noise
        and spectral norm only in ResNet discriminators; files from then left those at None."""
        if version >= 1 or params.get("recipe", "best") != "best":
            return params
        return with_ns_gan_settings(params, data_shape)

    def _build_method(self, data_shape: tuple[int, ...], priors: torch.Tensor) -> ClusterGANMethod:
        return ClusterGANMethod(self.settings(), int(self.n_clusters), data_shape, priors)
