"""The scikit-learn style front door: ``fit``, ``predict``, ``fit_predict``, ``transform``, ``sample``.

``__init__`` only stores parameters; ``fit`` validates them and the data, builds the method, runs
the shared :class:`~gancluster.train.Trainer` and stores fitted attributes ending in ``_``. Vectors
are standardised inside the estimator (and un-standardised in ``sample``); images are expected in
[0, 1] (uint8 images are divided by 255).
"""

from __future__ import annotations

import json
import typing
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from . import distributed
from .checkpoint import load_file, load_weights, save_file
from .config import check_type
from .errors import CheckpointError, ConfigError, GanclusterError, InputTypeError
from .methods.base import Method
from .nets import NetConfig
from .priors import check_priors
from .streaming import ArraySource, check_stream, column_stats, is_streamed
from .train import Trainer, TrainConfig, native_bf16

_PREDICT_BATCH = 2048
# parameters _check_params checks by hand (clearer messages, or values the annotation does not cover)
_CHECKED_BY_HAND = frozenset({"n_clusters", "priors", "max_seconds", "assign", "max_steps", "batch_size", "device",
                              "random_state", "verbose", "checkpoint_every", "on_divergence", "max_rollbacks",
                              "amp", "deterministic"})
# reliability and runtime settings every estimator accepts (defaults apply until a subclass lists them in __init__)
RELIABILITY_DEFAULTS: dict[str, Any] = {"checkpoint_every": None, "on_divergence": "stop", "max_rollbacks": 3,
                                        "amp": "off", "deterministic": False}
#: channels-last weights for conv nets on CPU: the same arithmetic in another memory order, which
#: oneDNN runs faster (benchmarks/throughput.py measures it); results are equal up to rounding
CHANNELS_LAST_ON_CPU = True


def _whole_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return isinstance(value, (float, np.floating)) and float(value).is_integer()


def _init_hints(cls: type) -> dict[str, Any]:
    """Type annotations of ``cls.__init__`` (empty when they cannot be resolved)."""
    try:
        return typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - an unresolvable annotation only disables the generic check
        return {}


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda:N`` is checked to exist."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise GanclusterError(f"device {device!r} is not valid; use auto, cpu, cuda or cuda:N") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise GanclusterError(f"device {device!r} requested but CUDA is not available; use device='cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise GanclusterError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif dev.type != "cpu":
        raise GanclusterError(f"device {device!r} is not supported; use auto, cpu, cuda or cuda:N")
    return dev


class GANClusterer(ClusterMixin, TransformerMixin, BaseEstimator):
    """Shared machinery of every GAN clustering estimator. Subclasses build their method.

    Reliability parameters every estimator takes: ``checkpoint_every`` (steps between training
    checkpoints when ``fit`` writes a run folder; None = a tenth of ``max_steps``), ``on_divergence``
    ('stop' raises :class:`DivergenceError` naming the step and the loss; 'rollback' reloads the last
    good checkpoint with a lower learning rate, at most ``max_rollbacks`` times).

    Runtime parameters every estimator takes: ``amp`` (mixed precision of the training step:
    'off'; 'bf16', autocast to bfloat16 on CUDA or CPU, worth it where the device computes bf16
    natively: GPUs with bf16, CPUs with AMX or AVX512-BF16; 'auto' = bf16 there, off elsewhere; the
    gradient penalty stays in float32) and ``deterministic`` (deterministic algorithms for the run,
    recorded in its provenance). A memory-mapped ``X`` (``np.load(path, mmap_mode='r')``) is
    streamed batch by batch instead of loaded, and under ``torchrun`` every rank fits and rank 0
    writes (:mod:`gancluster.distributed`).
    """

    method_name: ClassVar[str] = ""

    # ---- subclass hooks --------------------------------------------------------------------------
    def _build_method(self, data_shape: tuple[int, ...], priors: torch.Tensor) -> Method:
        raise NotImplementedError

    # ---- validation --------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if isinstance(self.n_clusters, bool) or not isinstance(self.n_clusters, (int, np.integer)):
            raise GanclusterError(f"n_clusters must be an integer >= 2, got {self.n_clusters!r}")
        if self.n_clusters < 2:
            raise GanclusterError(f"n_clusters must be >= 2, got {self.n_clusters}")
        if self.max_seconds is not None and (
            isinstance(self.max_seconds, bool) or not isinstance(self.max_seconds, (int, float, np.integer, np.floating))
        ):
            raise GanclusterError(f"max_seconds must be a number > 0 or None, got {self.max_seconds!r}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise GanclusterError(f"max_seconds must be > 0 or None, got {self.max_seconds}")
        if not isinstance(self.assign, str) or self.assign not in ("encoder", "kmeans"):
            raise GanclusterError(f"assign must be 'encoder' or 'kmeans', got {self.assign!r}")
        if self.priors is not None:  # None is uniform: nothing to check (and nothing to allocate yet)
            try:
                check_priors(self.priors, int(self.n_clusters))
            except GanclusterError:
                raise
            except (TypeError, ValueError, RuntimeError) as exc:
                raise GanclusterError(f"priors must be a list of {self.n_clusters} positive numbers summing to 1, "
                                      f"got {self.priors!r}") from exc
        self._check_run_params()

    def _check_run_params(self) -> None:
        """Budget, seed, device and reliability settings; then every other parameter against its annotation."""
        if not _whole_number(self.max_steps) or self.max_steps < 1:
            raise GanclusterError(f"max_steps must be an integer >= 1, got {self.max_steps!r}")
        if not _whole_number(self.batch_size) or self.batch_size < 2:  # batch norm needs two samples
            raise GanclusterError(f"batch_size must be an integer >= 2, got {self.batch_size!r}")
        if not isinstance(self.device, str):
            raise GanclusterError(f"device must be a string (auto, cpu, cuda or cuda:N), got {self.device!r}")
        rs = self.random_state
        if not (rs is None or isinstance(rs, np.random.RandomState) or (_whole_number(rs) and 0 <= rs < 2**32)):
            raise GanclusterError(
                f"random_state must be None, an integer in [0, 2**32 - 1] or a numpy RandomState, got {rs!r}"
            )
        if isinstance(self.verbose, str) or not isinstance(self.verbose, (int, np.integer, bool)):
            raise GanclusterError(f"verbose must be an integer (0 = silent), got {self.verbose!r}")
        every = self._reliability("checkpoint_every")
        if every is not None and (not _whole_number(every) or every < 1):
            raise GanclusterError(f"checkpoint_every must be an integer >= 1 or None (auto), got {every!r}")
        if self._reliability("on_divergence") not in ("stop", "rollback"):
            raise GanclusterError(
                f"on_divergence must be 'stop' or 'rollback', got {self._reliability('on_divergence')!r}"
            )
        rollbacks = self._reliability("max_rollbacks")
        if not _whole_number(rollbacks) or rollbacks < 0:
            raise GanclusterError(f"max_rollbacks must be an integer >= 0, got {rollbacks!r}")
        amp = self._reliability("amp")
        if amp not in ("off", "bf16", "auto"):
            raise GanclusterError(f"amp must be 'off', 'bf16' or 'auto' (bf16 where the device computes it natively), "
                                  f"got {amp!r}")
        if not isinstance(self._reliability("deterministic"), (bool, np.bool_)):
            raise GanclusterError(f"deterministic must be True or False, got {self._reliability('deterministic')!r}")
        hints = _init_hints(type(self))
        for name, value in self.get_params(deep=False).items():
            annotation = hints.get(name)
            if annotation is None or name in _CHECKED_BY_HAND or typing.get_origin(annotation) is typing.Literal:
                continue  # Literal choices are checked by the subclass, with its own message
            try:
                check_type(name, value, annotation)
            except ConfigError as exc:
                raise ConfigError(f"parameter {exc}") from None

    def _reliability(self, name: str) -> Any:
        """A reliability setting: the parameter if the estimator has it, else its default."""
        return getattr(self, name, RELIABILITY_DEFAULTS[name])

    def _validate_X(self, X: Any, reset: bool) -> np.ndarray:
        """Vectors go through sklearn's checks; images (3-D or 4-D arrays) through ours."""
        arr = X if isinstance(X, np.ndarray) else None
        if arr is not None and arr.ndim in (3, 4):
            if arr.dtype.kind not in "biuf":
                raise GanclusterError(f"image array has dtype {arr.dtype}; give numbers (float in [0, 1] or uint8)")
            if arr.shape[0] == 0 or 0 in arr.shape[1:]:
                raise GanclusterError(f"image array has shape {arr.shape}: it needs at least one sample and "
                                      "non-empty images")
            n_bad = int((~np.isfinite(arr)).sum()) if arr.dtype.kind == "f" else 0
            if not n_bad and arr.dtype.kind == "f" and arr.size and (arr.min() < 0 or arr.max() > 1):
                raise GanclusterError(
                    f"image values must lie in [0, 1] (got {arr.min():.3g}..{arr.max():.3g}); divide by 255 or rescale"
                )
            images = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
            if images.ndim == 3:
                images = images[:, None]
            if n_bad:
                raise GanclusterError(f"X contains {n_bad} NaN or infinite value(s); remove or impute them")
            if images.size and (images.min() < 0 or images.max() > 1):
                raise GanclusterError(
                    f"image values must lie in [0, 1] (got {images.min():.3g}..{images.max():.3g}); "
                    "divide by 255 or rescale"
                )
            if reset:
                self.data_shape_ = tuple(images.shape[1:])
                self.n_features_in_ = int(np.prod(self.data_shape_))
            elif tuple(images.shape[1:]) != self.data_shape_:
                raise GanclusterError(
                    f"X has per-sample shape {images.shape[1:]}, the model was fitted on {self.data_shape_}"
                )
            return images
        if arr is not None and arr.ndim > 4:
            raise GanclusterError(f"X has {arr.ndim} dimensions; give (n, features) or images (n, [c,] h, w)")
        try:
            vectors = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
        except GanclusterError:
            raise
        except (ValueError, TypeError) as exc:  # sklearn: wrong shape, text, NaN, sparse, complex, ...
            # one line: sklearn's messages go on with a print-out of the array
            lines = [ln.strip() for ln in str(exc).splitlines()]
            text = " ".join(ln for ln in lines if ln and not ln.startswith(("array=", "[")))
            error = InputTypeError if isinstance(exc, TypeError) else GanclusterError
            raise error(f"X is not usable: {text}") from exc
        big = float(np.abs(vectors).max()) if vectors.size else 0.0
        if big > np.finfo(np.float32).max / 4:  # standardising could overflow float32
            raise GanclusterError(f"X has values up to {big:.3g}, too large for float32 arithmetic; rescale it "
                                  "(e.g. divide by its largest value)")
        if reset:
            self.data_shape_ = (vectors.shape[1],)
        return vectors.astype(np.float32)

    def _to_model_space(self, X: np.ndarray) -> torch.Tensor:
        if len(self.data_shape_) == 1:
            X = (X - self.mean_) / self.scale_
        return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))

    def _stream(self, X: np.ndarray, reset: bool, device: torch.device) -> ArraySource:
        """A memory-mapped ``X`` as a source that reads rows per batch (checked chunk by chunk)."""
        shape, divide, image = check_stream(X)
        if reset:
            self.data_shape_ = shape
            self.n_features_in_ = int(np.prod(shape))
            if not image:
                mean, std = column_stats(X)
                self.mean_ = mean.astype(np.float32)
                self.scale_ = np.where(std > 1e-8 * (1 + np.abs(mean)), std, 1.0).astype(np.float32)
        elif shape != self.data_shape_:
            raise GanclusterError(f"X has per-sample shape {shape}, the model was fitted on {self.data_shape_}")
        transform = None
        if not image:
            mean, scale_ = self.mean_, self.scale_

            def transform(block: np.ndarray) -> np.ndarray:
                return (block - mean) / scale_

        return ArraySource(X, shape, divide=divide, transform=transform, device=device)

    def _amp(self, device: torch.device) -> str:
        """Resolved mixed precision: ``auto`` is bf16 where the device computes it natively, else off."""
        amp = self._reliability("amp")
        if amp == "auto":
            return "bf16" if native_bf16(device) else "off"
        if amp == "bf16" and not native_bf16(device):
            warnings.warn(f"amp='bf16': this {device.type} device has no native bfloat16 arithmetic, so training "
                          "runs emulated and slower than float32; use amp='off' (or 'auto')", stacklevel=3)
        return amp

    def _from_model_space(self, x: torch.Tensor) -> np.ndarray:
        out = x.detach().cpu().numpy()
        if len(self.data_shape_) == 1:
            out = out * self.scale_ + self.mean_
        return out

    # ---- fitting -----------------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        eval_set: tuple[Any, Any] | None = None,
        run_dir: str | Path | None = None,
        resume: bool = False,
    ) -> "GANClusterer":
        """Train on ``X`` (y is ignored: clustering is unsupervised).

        ``eval_set=(X_eval, y_eval)`` logs ACC / NMI / ARI on it during training (``history_``).
        ``run_dir`` makes the run write checkpoints and a JSONL log there; ``resume`` continues it.
        """
        self._check_params()
        # under torchrun: join the process group; every rank fits, rank 0 writes (gancluster.distributed)
        ctx = distributed.setup(self.device)
        device = resolve_device(distributed.rank_device(self.device, ctx))
        streamed = is_streamed(X)
        if streamed:
            data = self._stream(X, reset=True, device=device)
        else:
            X = self._validate_X(X, reset=True)
        if X.shape[0] < self.n_clusters:
            raise GanclusterError(
                f"got {X.shape[0]} sample(s) but n_clusters={self.n_clusters}: need at least n_clusters samples"
            )
        priors = check_priors(self.priors, self.n_clusters)
        if len(self.data_shape_) == 1 and not streamed:
            # statistics in float64: float32 sums of large values overflow
            self.mean_ = X.mean(0, dtype=np.float64).astype(np.float32)
            scale = X.std(0, dtype=np.float64)
            self.scale_ = np.where(scale > 1e-8 * (1 + np.abs(self.mean_)), scale, 1.0).astype(np.float32)
        amp = self._amp(device)
        seed = distributed.broadcast_int(ctx, self._seed(), device)  # random_state=None: rank 0's draw
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            method = self._build_method(self.data_shape_, priors)
        method = _placed(method, device)
        if not streamed:
            data = self._to_model_space(X).to(device)
        evaluate = self._make_eval(eval_set, device) if eval_set is not None else None
        cfg = TrainConfig(
            max_steps=int(self.max_steps), max_seconds=self.max_seconds, batch_size=int(self.batch_size),
            seed=seed, progress=bool(self.verbose), checkpoint_every=max(1, int(self.max_steps) // 10),
            on_divergence=self._reliability("on_divergence"), max_rollbacks=int(self._reliability("max_rollbacks")),
            amp=amp, deterministic=bool(self._reliability("deterministic")),
        )
        if self._reliability("checkpoint_every") is not None:
            cfg.checkpoint_every = int(self._reliability("checkpoint_every"))
        trainer = Trainer(method, data, cfg, run_dir=run_dir, evaluate=evaluate, snapshot=self._snapshot,
                          extra_meta={"estimator": self._checkpoint_meta()} if run_dir else None, dist=ctx)
        if resume:
            trainer.resume()
        result = trainer.fit()
        self.method_ = method
        self.device_ = device
        self.n_iter_ = result.steps
        self.train_seconds_ = result.seconds
        self.history_ = result.history
        self.priors_ = method.prior.mode_weights().detach().cpu().numpy()
        if self.assign == "kmeans":
            from sklearn.cluster import KMeans

            km = KMeans(self.n_clusters, n_init=10, random_state=seed).fit(self._embed(data))
            self.kmeans_centers_ = km.cluster_centers_.astype(np.float32)
        self.labels_ = self._assign(data)
        return self

    def _snapshot(self, method: Method, path: Path) -> None:
        """Ten samples per cluster from fixed latents, so pictures of successive steps compare."""
        from .report import save_samples_figure

        device = next(method.parameters()).device
        rng = torch.Generator(device=device).manual_seed(0)
        modes = torch.arange(self.n_clusters, device=device).repeat_interleave(10)
        x, k = method.generate(modes.numel(), rng, modes)
        save_samples_figure(self._from_model_space(x), k.cpu().numpy(), path)

    def _seed(self) -> int:
        rs = self.random_state
        if rs is None:
            return int(np.random.randint(0, 2**31 - 1))
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(0, 2**31 - 1))
        return int(rs)

    def _make_eval(self, eval_set: tuple[Any, Any], device: torch.device):
        from .metrics import evaluate_clustering

        X_eval = self._to_model_space(self._validate_X(eval_set[0], reset=False)).to(device)
        y_eval = np.asarray(eval_set[1])
        if y_eval.shape[0] != X_eval.shape[0]:
            raise GanclusterError(f"eval_set labels have length {y_eval.shape[0]}, X_eval has {X_eval.shape[0]} rows")

        def evaluate(method: Method) -> dict[str, float]:
            logits = torch.cat([method.cluster_logits(X_eval[i : i + _PREDICT_BATCH])
                                for i in range(0, X_eval.shape[0], _PREDICT_BATCH)])
            pred = logits.argmax(1).cpu().numpy()
            return {k: round(v, 4) for k, v in evaluate_clustering(y_eval, pred).items()}

        return evaluate

    # ---- inference ---------------------------------------------------------------------------------
    @torch.no_grad()
    def _batched(self, fn, data: torch.Tensor) -> torch.Tensor:
        self.method_.eval()
        return torch.cat([fn(data[i : i + _PREDICT_BATCH]) for i in range(0, data.shape[0], _PREDICT_BATCH)])

    def _embed(self, data: torch.Tensor) -> np.ndarray:
        return self._batched(self.method_.embed, data).cpu().numpy()

    def _assign(self, data: torch.Tensor) -> np.ndarray:
        if self.assign == "kmeans":
            z = self._embed(data)
            c = self.kmeans_centers_
            dist = (z**2).sum(1, keepdims=True) - 2 * z @ c.T + (c**2).sum(1)
            return dist.argmin(1).astype(np.int64)
        return self._batched(self.method_.cluster_logits, data).argmax(1).cpu().numpy().astype(np.int64)

    def _prepare(self, X: Any) -> torch.Tensor | ArraySource:
        check_is_fitted(self, "method_")
        if is_streamed(X):  # read in batches, never whole
            return self._stream(X, reset=False, device=self.device_)
        return self._to_model_space(self._validate_X(X, reset=False)).to(self.device_)

    def predict(self, X: Any) -> np.ndarray:
        """Cluster of each sample: argmax of the inverter's cluster scores (or k-means on its output)."""
        return self._assign(self._prepare(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Soft cluster assignments from the inverter (rows sum to 1)."""
        data = self._prepare(X)
        logits = self._batched(self.method_.cluster_logits, data)
        return torch.softmax(logits, 1).cpu().numpy()

    def fit_predict(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        return self.fit(X, y, **fit_params).labels_

    def transform(self, X: Any) -> np.ndarray:
        """Map data to the latent space through the inverter."""
        return self._embed(self._prepare(X))

    def sample(self, n_samples: int = 1, cluster: int | None = None, random_state: int | None = None):
        """Generate ``n_samples`` from the model, optionally all from one cluster.

        Returns ``(X, y)`` like sklearn's mixture models: samples in the data's own space and the
        cluster (latent mode) each came from.
        """
        check_is_fitted(self, "method_")
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
            raise GanclusterError(f"n_samples must be a positive integer, got {n_samples!r}")
        modes = None
        if cluster is not None:
            if isinstance(cluster, bool) or not isinstance(cluster, (int, np.integer)) or not 0 <= cluster < self.n_clusters:
                raise GanclusterError(f"cluster must be an integer in [0, {self.n_clusters - 1}], got {cluster!r}")
            modes = torch.full((n_samples,), int(cluster), dtype=torch.long, device=self.device_)
        rng = torch.Generator(device=self.device_)
        rng.manual_seed(self._seed() if random_state is None else int(random_state))
        self.method_.eval()
        xs, ks = [], []
        for start in range(0, n_samples, _PREDICT_BATCH):
            m = min(_PREDICT_BATCH, n_samples - start)
            x, k = self.method_.generate(m, rng, None if modes is None else modes[start : start + m])
            xs.append(x)
            ks.append(k)
        return self._from_model_space(torch.cat(xs)), torch.cat(ks).cpu().numpy()

    # ---- persistence -------------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """Pickle (joblib, copy.deepcopy) the fitted networks as tensors: torch refuses to pickle
        spectral-normalised modules whole, so ``__setstate__`` rebuilds them as ``load`` does."""
        state = self.__dict__.copy()
        method = state.pop("method_", None)
        if method is not None:
            state["_method_weights"] = {k: v.detach().cpu().clone() for k, v in method.state_dict().items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights = state.pop("_method_weights", None)
        self.__dict__.update(state)
        if weights is None:
            return
        with torch.random.fork_rng(devices=[]):  # building draws initial weights; keep the caller's RNG
            self._restore_method({f"model.{k}": v for k, v in weights.items()}, "the pickled estimator")

    def _restore_method(self, tensors: dict[str, torch.Tensor], source: str | Path) -> None:
        """Build the networks for ``data_shape_`` on ``device_`` and load ``model.*`` weights into them."""
        method = self._build_method(self.data_shape_, check_priors(self.priors, self.n_clusters))
        load_weights(method, tensors, source)
        self.method_ = _placed(method, self.device_).eval()

    def _pinned_params(self) -> dict[str, Any]:
        """Parameters left at None whose recipe value shapes the saved weights, resolved.

        Saved in place of the None so that a file reloads the same networks after a later version
        changes that recipe default.
        """
        return {}

    def _left_to_recipe(self, values: dict[str, Any]) -> dict[str, Any]:
        """Of the resolved ``values``, those whose parameter is None here (what ``_pinned_params`` pins)."""
        return {k: v for k, v in values.items() if getattr(self, k) is None and v is not None}

    @classmethod
    def _params_before_pinning(cls, params: dict[str, Any], data_shape: tuple[int, ...], version: int) -> dict[str, Any]:
        """``params`` of a file written at pinning ``version`` < :data:`PINNING_VERSION` (0: nothing was
        pinned), with the recipe defaults of that time filled in where the file left None."""
        return params

    def _meta(self) -> dict[str, Any]:
        params = {**self.get_params(), **self._pinned_params()}
        params["priors"] = None if params["priors"] is None else [float(p) for p in params["priors"]]
        if not isinstance(params["random_state"], (int, type(None))):
            params["random_state"] = None
        return {"class": type(self).__name__, "params": params, "pinned": PINNING_VERSION}

    def _checkpoint_meta(self) -> dict[str, Any]:
        """What ``load`` needs to rebuild the model from a training checkpoint: parameters, data shape
        and (vectors) the standardisation, which is small enough for JSON."""
        info = {**self._meta(), "data_shape": list(self.data_shape_)}
        if len(self.data_shape_) == 1:
            info["preprocess"] = {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}
        return info

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to one ``.safetensors`` file (weights + JSON metadata, no pickle)."""
        check_is_fitted(self, "method_")
        path = Path(path)
        tensors = {f"model.{k}": v for k, v in self.method_.state_dict().items()}
        if len(self.data_shape_) == 1:
            tensors["preprocess.mean"] = torch.from_numpy(self.mean_)
            tensors["preprocess.scale"] = torch.from_numpy(self.scale_)
        if self.assign == "kmeans":
            tensors["assign.kmeans_centers"] = torch.from_numpy(self.kmeans_centers_)
        meta = {
            "method": self.method_name,
            "estimator": self._meta(),
            "data_shape": list(self.data_shape_),
            "n_iter": self.n_iter_,
            "train_seconds": self.train_seconds_,
        }
        save_file(path, tensors, meta)
        return path


def _placed(method: Method, device: torch.device) -> Method:
    """``method`` on ``device``; on CPU with channels-last conv weights (only 4-D weights change layout)."""
    method = method.to(device)
    if device.type == "cpu" and CHANNELS_LAST_ON_CPU:
        method = method.to(memory_format=torch.channels_last)
    return method


ESTIMATORS: dict[str, type[GANClusterer]] = {}
# Bumped when a recipe default that shapes saved weights changes without having been pinned:
# 1 (2026-11-29) ClusterGAN's GAN settings; 2 (2026-11-30) PGMGAN's 28x28 image settings;
# 3 (2026-11-30) NEMGAN's GAN settings on images; 4 was written only by 444ae5f (PGMGAN's weight average,
# withdrawn in 3dad72e), whose files mean NEMGAN's vector recipe of 3; 5 (2026-11-30) NEMGAN's real-data
# path on vectors.
PINNING_VERSION = 5


def hinge_gan_settings(settings: Any) -> dict[str, Any]:
    """The GAN settings of a hinge recipe (ClusterGAN's, NEMGAN's on images) that saved files pin."""
    return {"loss": settings.loss, "n_critic": settings.n_critic, "standardize_noise": settings.standardize_noise,
            "d_spectral_norm": settings.net.d_spectral_norm}


def with_ns_gan_settings(params: dict[str, Any], data_shape: tuple[int, ...]) -> dict[str, Any]:
    """``params`` with the GAN settings the best recipes used before they took the hinge settings
    (NS loss, one critic step, unscaled noise, spectral norm only where the nets' default put it)
    filled in where a file left None."""
    out = dict(params)
    for name, old in (("loss", "ns"), ("n_critic", 1), ("standardize_noise", False)):
        if out.get(name) is None:
            out[name] = old
    if out.get("d_spectral_norm") is None:
        out["d_spectral_norm"] = NetConfig(arch=out.get("arch") or "auto").discriminator_sn(data_shape, out["loss"])
    return out


def register_estimator(cls: type[GANClusterer]) -> type[GANClusterer]:
    ESTIMATORS[cls.__name__] = cls
    return cls


def load(path: str | Path, device: str = "auto") -> GANClusterer:
    """Load a model written by ``save`` (or a training checkpoint) without unpickling anything."""
    tensors, meta = load_file(path)
    info = meta.get("estimator")
    if not isinstance(info, dict) or info.get("class") not in ESTIMATORS:
        raise CheckpointError(f"{path} does not say which estimator wrote it; it cannot be loaded as a model")
    cls = ESTIMATORS[info["class"]]
    data_shape = tuple(int(d) for d in meta.get("data_shape") or info.get("data_shape", ()))
    if not data_shape:
        raise CheckpointError(f"{path} does not record the data shape")
    params = info["params"]
    if not isinstance(params, dict):
        raise CheckpointError(f"{path}: its estimator parameters are corrupt")
    version = int(info.get("pinned") or 0)  # files of the first pinning wrote True
    if version < PINNING_VERSION:
        params = cls._params_before_pinning(dict(params), data_shape, version)
    try:
        est = cls(**params)
    except TypeError as exc:
        raise CheckpointError(f"{path} has parameters this version does not know: {exc}") from exc
    est.device = device
    est._check_params()
    est.data_shape_ = data_shape
    est.n_features_in_ = int(np.prod(data_shape))
    if len(data_shape) == 1:
        if "preprocess.mean" in tensors:
            est.mean_ = tensors["preprocess.mean"].numpy()
            est.scale_ = tensors["preprocess.scale"].numpy()
        else:  # a training checkpoint keeps them in its metadata
            stats = info.get("preprocess") or {}
            try:
                est.mean_ = np.asarray(stats["mean"], dtype=np.float32)
                est.scale_ = np.asarray(stats["scale"], dtype=np.float32)
            except (KeyError, TypeError, ValueError) as exc:
                raise CheckpointError(f"{path} lacks the standardisation of its vector data") from exc
            if est.mean_.shape != data_shape or est.scale_.shape != data_shape:
                raise CheckpointError(f"{path}: its standardisation does not match its data shape {data_shape}")
    est.device_ = resolve_device(device)
    est._restore_method(tensors, path)
    est.n_iter_ = int(meta.get("n_iter", meta.get("step", 0)))
    est.train_seconds_ = float(meta.get("train_seconds", meta.get("elapsed", 0.0)))
    est.history_ = []
    est.priors_ = est.method_.prior.mode_weights().detach().cpu().numpy()
    if est.assign == "kmeans":
        if "assign.kmeans_centers" not in tensors:
            raise CheckpointError(f"{path} was fitted with assign='kmeans' but holds no k-means centres")
        est.kmeans_centers_ = tensors["assign.kmeans_centers"].numpy()
    return est


def params_json(est: GANClusterer) -> str:
    return json.dumps(est._meta(), indent=2)
