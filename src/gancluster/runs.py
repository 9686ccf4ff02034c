"""Run folders: what one training run reads, writes and records.

The CLI, the demo and ``reproduce`` all go through :func:`train_run` and :func:`evaluate_run`, so a
run folder looks the same whichever door it came through::

    config.json              method, data spec, estimator parameters, provenance (versions, seed)
    checkpoint.safetensors   training state for --resume (weights, optimizers, RNG, data order)
    model.safetensors        the fitted model (gancluster.load)
    metrics.jsonl            training log: losses, periodic evaluation
    metrics.json             final metrics on the evaluation split, next to k-means
    samples.png ...          pictures: per-cluster samples, confusion matrix, training curves

In a multi-process run (torchrun) every rank trains and only rank 0 writes the folder. A ``.npy``
file can be streamed from disk (``DataSpec.mmap``) instead of loaded.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import _version, distributed
from .checkpoint import atomic_write_text
from .config import from_dict, to_dict
from .errors import ConfigError, GanclusterError
from .estimator import ESTIMATORS, GANClusterer, load

#: ``mmap=None`` (auto) streams a ``.npy`` file from disk when it is larger than this
MMAP_AUTO_BYTES = 2 * 1024**3
#: rows of a streamed file that are loaded to evaluate the run (metrics, pictures)
MMAP_EVAL_ROWS = 10_000

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"


@dataclass
class DataSpec:
    """Which data a run trains and evaluates on (see :func:`gancluster.data.load_dataset`)."""

    source: str = "digits"
    split: str = "train"
    eval_split: str | None = "auto"
    data_dir: str | None = None
    n_samples: int | None = None
    classes: list[int | str] | None = None
    groups: list[list[int]] | str | None = None
    ratios: list[float] | None = None
    label_column: str | None = None
    image_size: int | None = None
    label: str | None = None  # CIFAR-100 "fine"/"coarse", a CelebA attribute
    crop: int | None = None  # centre crop before image_size (0 = none; CelebA's default is 140)
    seed: int = 0
    #: stream a .npy file from disk (np.load mmap_mode='r') instead of loading it; None = when > 2 GiB
    mmap: bool | None = None

    def resolved_eval_split(self) -> str | None:
        """``auto``: the test split of a built-in dataset, the training data itself for a user's file."""
        if self.eval_split != "auto":
            return self.eval_split
        from .data import resolve_name

        return "test" if resolve_name(self.source) is not None else None

    def streams(self) -> bool:
        """Whether the training data is read from disk batch by batch (see ``mmap``)."""
        path = Path(self.source)
        is_npy = path.suffix.lower() == ".npy" and path.is_file()
        if self.mmap is None:
            return is_npy and path.stat().st_size > MMAP_AUTO_BYTES and not self._subsets()
        if self.mmap and not is_npy:
            raise GanclusterError(f"--mmap streams a .npy file; {self.source} is not one (save the array with np.save)")
        if self.mmap and self._subsets():
            raise GanclusterError("--mmap streams the whole file; --classes / --groups / --ratios / --n-samples are not "
                                  "supported with it: save the subset as its own .npy first")
        return bool(self.mmap)

    def _subsets(self) -> bool:
        return any(v is not None for v in (self.classes, self.groups, self.ratios, self.n_samples))

    def open_stream(self):
        """The training file as a read-only memory map, and a random subsample loaded for evaluation."""
        from .data import Dataset

        try:
            X = np.load(self.source, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise GanclusterError(f"cannot memory-map {self.source}: {exc}; save the array with np.save") from exc
        n = X.shape[0] if X.ndim else 0
        rows = np.sort(np.random.default_rng(self.seed).permutation(n)[: min(n, MMAP_EVAL_ROWS)])
        sample = np.asarray(X[rows])
        if sample.ndim == 3:
            sample = sample[:, None]
        if sample.ndim == 4 and sample.dtype == np.uint8:
            sample = sample.astype(np.float32) / 255.0
        return X, Dataset(X=sample, name=Path(self.source).stem,
                          meta={"source": self.source, "rows": f"random {len(rows)} of {n} (streamed run)"})

    def load(self, split: str):
        from .data import load_dataset

        return load_dataset(
            self.source, split=split, data_dir=self.data_dir, n_samples=self.n_samples, seed=self.seed,
            classes=self.classes, groups=self.groups, ratios=self.ratios, label_column=self.label_column,
            image_size=self.image_size, label=self.label, crop=self.crop,
        )


def method_names() -> dict[str, type[GANClusterer]]:
    """CLI method name -> estimator class, e.g. ``clustergan`` -> :class:`ClusterGAN`."""
    return {cls.method_name: cls for cls in ESTIMATORS.values()}


def build_estimator(method: str, params: dict[str, Any]) -> GANClusterer:
    """An estimator of ``method`` with ``params``; unknown methods or parameter names are refused."""
    methods = method_names()
    if method not in methods:
        raise ConfigError(f"unknown method {method!r}; available: {', '.join(sorted(methods))}")
    cls = methods[method]
    known = cls().get_params()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ConfigError(f"{method}: unknown parameter(s) {unknown}; known parameters are {sorted(known)}")
    est = cls(**params)
    est._check_params()
    return est


def provenance(device: str | torch.device | None = None) -> dict[str, Any]:
    """What is needed to say where a number came from: versions, commit, machine."""
    commit = None
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if out.returncode == 0:
            commit = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "gancluster": _version.__version__,
        "git_commit": commit,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device) if device is not None else None,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _json_ready(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def train_run(
    run_dir: str | Path,
    method: str,
    data: DataSpec,
    params: dict[str, Any],
    *,
    resume: bool = False,
    pictures: bool = True,
    distributed_run: bool = False,
) -> dict[str, Any]:
    """Train ``method`` on ``data`` into ``run_dir``, save the model, evaluate, draw the pictures.

    Everything that can be wrong with the input is checked before the folder is created, so a
    refused run leaves nothing behind. Under torchrun (or with ``distributed_run``, which requires
    it) every rank trains and rank 0 alone writes; the other ranks return an empty dict.
    """
    ctx = distributed.setup(str(params.get("device", "auto")), required=distributed_run)
    run_dir = Path(run_dir)
    config_path = run_dir / CONFIG_FILE
    if resume:
        if not config_path.exists():
            raise GanclusterError(f"--resume: {run_dir} holds no run ({CONFIG_FILE} missing); start it without --resume")
        saved = json.loads(config_path.read_text())
        if saved.get("method") != method:
            raise GanclusterError(f"--resume: {run_dir} is a {saved.get('method')!r} run, not {method!r}")
    elif run_dir.exists() and any(run_dir.iterdir()):
        raise GanclusterError(f"run folder {run_dir} already exists and is not empty; use --resume or another --run-dir")
    est = build_estimator(method, params)
    if data.streams():
        train_X, eval_ds = data.open_stream()  # a memory map, and a loaded random subsample to evaluate on
        train_y, eval_set = None, None
    else:
        train = data.load(data.split)
        train_X, train_y = train.X, train.y
        eval_split = data.resolved_eval_split()
        eval_ds = data.load(eval_split) if eval_split else train
        eval_set = (eval_ds.X, eval_ds.y) if eval_ds.y is not None else None
    writes = ctx is None or ctx.is_main
    config = {
        "method": method,
        "data": to_dict(data),
        "params": _json_ready(est.get_params()),
        "provenance": {**provenance(est.device), "distributed": None if ctx is None else ctx.as_dict()},
    }
    distributed.barrier(ctx)  # every rank has checked the folder before rank 0 writes into it
    created = not run_dir.exists()
    if writes:
        atomic_write_text(config_path, json.dumps(config, indent=2) + "\n")
    try:
        # methods that learn priors from a few labels (NEMGAN's learn_priors) take y; others ignore it
        y = train_y if getattr(est, "learn_priors", False) else None
        est.fit(train_X, y, eval_set=eval_set, run_dir=run_dir, resume=resume)
    except GanclusterError:
        if writes and not resume and not (run_dir / "checkpoint.safetensors").exists():
            # refused before the first checkpoint: leave nothing behind
            config_path.unlink(missing_ok=True)
            if created:
                shutil.rmtree(run_dir, ignore_errors=True)
        raise
    if not writes:
        return {}
    est.save(run_dir / MODEL_FILE)
    return evaluate_run(run_dir, eval_data=eval_ds, pictures=pictures, estimator=est)


def evaluate_run(
    run_dir: str | Path,
    eval_data: Any = None,
    *,
    pictures: bool = True,
    estimator: GANClusterer | None = None,
    baseline: str = "kmeans",
    n_generated: int = 2000,
    inception: int = 0,
) -> dict[str, Any]:
    """Every metric that applies to a trained run; writes ``metrics.json``, pictures and ``report.html``.

    Clustering scores on the evaluation split (beside ``baseline`` on the same data), cluster shares
    of real and generated data against the priors (C3), and generation quality: a domain FID and
    IS for MNIST-like images, mode metrics for 2-D toy data, and the Inception FID on ``inception``
    samples when asked (it runs at a few images per second on a CPU).
    """
    from .baselines import run_baseline
    from .metrics import cluster_shares, evaluate_clustering, total_variation

    run_dir = Path(run_dir)
    est = estimator if estimator is not None else load(run_dir / MODEL_FILE, device="auto")
    if eval_data is None:
        config = _read_config(run_dir)
        spec = from_dict(DataSpec, config["data"], where="config.json data")
        eval_data = spec.open_stream()[1] if spec.streams() else spec.load(spec.resolved_eval_split() or spec.split)
    X, y = eval_data.X, eval_data.y
    k = int(est.n_clusters)
    pred = est.predict(X)
    metrics: dict[str, Any] = {
        "method": est.method_name,
        "data": eval_data.name,
        "n_eval": int(len(X)),
        "train_steps": int(est.n_iter_),
        "train_seconds": round(float(est.train_seconds_), 2),
        "priors": [round(float(p), 4) for p in est.priors_],
        "predicted_shares": cluster_shares(pred, k).round(4).tolist(),
    }
    # C3: which clusters the inverter puts generated samples in, against the latent's priors.
    gen, modes = est.sample(n_generated, random_state=0)
    gen_pred = est.predict(gen)
    gen_shares = cluster_shares(gen_pred, k)
    metrics["generated_shares"] = gen_shares.round(4).tolist()
    metrics["generated_tv_to_priors"] = round(total_variation(gen_shares, est.priors_ / est.priors_.sum()), 4)
    metrics["generated_mode_agreement"] = round(float((gen_pred == modes).mean()), 4)
    if y is not None:
        metrics["scores"] = {key: round(v, 4) for key, v in evaluate_clustering(y, pred).items()}
        t0 = time.perf_counter()
        base = run_baseline(baseline, X, k, seed=0)
        metrics["baseline"] = {
            "name": baseline,
            "seconds": round(time.perf_counter() - t0, 2),
            **{key: round(v, 4) for key, v in evaluate_clustering(y, base).items()},
        }
    metrics["generation"] = generation_metrics(est, eval_data, gen, inception=inception)
    atomic_write_text(run_dir / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    if pictures:
        images = draw_pictures(run_dir, est, X, y, pred)
        write_report(run_dir, metrics, images)
    return metrics


#: Domain classifiers shipped with the package, by the image data they were trained on.
_DOMAIN_FEATURES = {"mnist": "mnist", "fashion-mnist": "fashion-mnist"}


def generation_metrics(est: GANClusterer, eval_data: Any, generated: np.ndarray, inception: int = 0) -> dict[str, Any]:
    """Quality of generated data against the evaluation data, each FID naming its features and N."""
    from .data import resolve_name
    from .metrics import classifier_score, compute_fid, mode_metrics_2d

    out: dict[str, Any] = {}
    X = eval_data.X
    meta = getattr(eval_data, "meta", {}) or {}
    domain = _DOMAIN_FEATURES.get(resolve_name(str(eval_data.name)) or "")
    n = min(len(generated), len(X))
    if domain is not None and X.ndim == 4 and X.shape[1:] == (1, 28, 28):
        fid = compute_fid(generated[:n], X[:n], features=domain, label_a="generated", label_b="eval data")
        out["domain_fid"] = {**fid.as_dict(), "text": str(fid)}
        score = classifier_score(generated, domain)
        out["classifier_is"] = {"value": score.mean, "std": score.std, "classifier": score.classifier,
                                "n": int(len(generated))}
    if inception > 0 and X.ndim == 4:
        m = min(inception, len(generated), len(X))
        fid = compute_fid(generated[:m], X[:m], features="inception", label_a="generated", label_b="eval data")
        out["inception_fid"] = {**fid.as_dict(), "text": str(fid)}
    if meta.get("centers") is not None and meta.get("std") is not None and X.ndim == 2:
        points, _ = est.sample(50_000, random_state=1)
        out["modes"] = mode_metrics_2d(points, np.asarray(meta["centers"]), float(meta["std"])).as_dict()
    return out


def draw_pictures(
    run_dir: Path, est: GANClusterer, X: np.ndarray, y: np.ndarray | None, pred: np.ndarray
) -> dict[str, Path]:
    """Per-cluster samples, interpolation, confusion matrix, training curves, latent embedding."""
    from . import report

    written: dict[str, Path] = {}
    gen, modes = _samples_per_cluster(est, 10)
    labels = [f"cluster {c}  p={p:.2f}" for c, p in enumerate(est.priors_)] if gen.ndim == 4 else None
    written["generated samples, one row per cluster"] = report.save_samples_figure(
        gen, modes, run_dir / "samples.png", real=X if X.ndim == 2 else None, labels=labels)
    if gen.ndim == 4 and hasattr(est.method_, "interpolate"):
        strips = est.method_.interpolate(int(est.n_clusters), steps=8)
        written["latent interpolation between clusters"] = report.save_interpolation(
            est._from_model_space(strips.flatten(0, 1)).reshape(*strips.shape[:2], *gen.shape[1:]),
            run_dir / "interpolation.png")
    history = getattr(est, "history_", None) or _read_history(run_dir)
    if history:
        written["training curves"] = report.save_training_curves(history, run_dir / "curves.png")
    if y is not None:
        written["clusters vs labels"] = report.save_confusion_matrix(y, pred, run_dir / "confusion.png")
        written["encoder latents (t-SNE), coloured by label"] = report.save_embedding_plot(
            est.transform(X[:2000]), y[:2000], run_dir / "embedding.png", method="tsne", max_points=2000)
    return written


def write_report(run_dir: Path, metrics: dict[str, Any], images: dict[str, Path]) -> Path:
    """``report.html``: the run's tables and pictures in one file that opens offline."""
    from . import report

    tables: dict[str, Any] = {}
    if "scores" in metrics:
        base = metrics["baseline"]
        tables["clustering (ACC: Hungarian; NMI: arithmetic mean)"] = {
            metrics["method"]: {k: metrics["scores"][k] for k in ("acc", "nmi", "ari", "purity", "nmi_geometric")},
            f"{base['name']} (same data)": {k: base[k] for k in ("acc", "nmi", "ari", "purity", "nmi_geometric")},
        }
    tables["cluster shares"] = {
        "priors": metrics["priors"],
        "real data (predicted)": metrics["predicted_shares"],
        "generated (by the inverter)": metrics["generated_shares"],
        "generated TV to priors": metrics["generated_tv_to_priors"],
        "generated mode agreement": metrics["generated_mode_agreement"],
    }
    gen = metrics.get("generation", {})
    quality = {key: gen[key]["text"] for key in ("domain_fid", "inception_fid") if key in gen}
    if "classifier_is" in gen:
        quality["IS"] = f"{gen['classifier_is']['value']:.3f} ± {gen['classifier_is']['std']:.3f} " \
                        f"[{gen['classifier_is']['classifier']}; N={gen['classifier_is']['n']}]"
    if "modes" in gen:
        quality.update({k: v for k, v in gen["modes"].items() if k != "mode_shares"})
    if quality:
        tables["generation quality"] = quality
    config_path = run_dir / CONFIG_FILE
    if config_path.exists():
        config = json.loads(config_path.read_text())
        tables["parameters"] = config.get("params", {})
        tables["data"] = config.get("data", {})
        tables["provenance"] = config.get("provenance", {})
    tables["training"] = {"steps": metrics["train_steps"], "seconds": metrics["train_seconds"],
                          "evaluated on": f"{metrics['data']} ({metrics['n_eval']} samples)"}
    return report.write_html_report(run_dir / "report.html", f"gancluster run: {run_dir.name}", tables, images)


def _samples_per_cluster(est: GANClusterer, per: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ks = [], []
    for c in range(int(est.n_clusters)):
        x, k = est.sample(per, cluster=c, random_state=c)
        xs.append(x)
        ks.append(k)
    return np.concatenate(xs), np.concatenate(ks)


def _read_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / CONFIG_FILE
    if not path.exists():
        raise GanclusterError(f"{run_dir} is not a run folder ({CONFIG_FILE} missing); give the folder `train` wrote")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise GanclusterError(f"{path} is not valid JSON ({exc}); the run folder is damaged") from exc


def _read_history(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a kill
    return records
