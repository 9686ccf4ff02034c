"""Small CNN classifiers for MNIST and Fashion-MNIST: the feature extractor of the *domain FID*.

Inception-v3 features are the standard FID but cost ~8 images/s on two CPU cores and were trained
on photos, not digits. The GAN-clustering papers instead report FIDs on a classifier trained on the
same data; this module is that classifier. Its weights ship as small safetensors files in
``gancluster/assets/`` (trained by ``benchmarks/train_domain_classifier.py``), so nothing is
downloaded and nothing is unpickled.

Usage::

    clf = load_domain_classifier("mnist")          # or "fashion-mnist"
    feats = domain_features(clf, images)           # (n, 128) penultimate-layer features
    logits = domain_logits(clf, images)            # (n, 10), e.g. for the Inception Score
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import Tensor, nn

from gancluster.errors import CheckpointError, GanclusterError

__all__ = [
    "ASSETS_DIR",
    "DOMAIN_CLASSIFIERS",
    "ClassifierConfig",
    "DomainClassifier",
    "classifier_path",
    "domain_features",
    "domain_logits",
    "load_domain_classifier",
    "predict_channels",
    "save_domain_classifier",
]

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
# canonical dataset name -> asset file; aliases resolve through gancluster.data.resolve_name.
DOMAIN_CLASSIFIERS = {
    "mnist": "mnist_classifier.safetensors",
    "fashion-mnist": "fashion_mnist_classifier.safetensors",
}
_FORMAT = "gancluster-domain-classifier"


@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture of the classifier; stored in the safetensors metadata so loading rebuilds it."""

    channels: tuple[int, int, int] = (32, 64, 64)
    feature_dim: int = 128
    n_classes: int = 10
    in_channels: int = 1

    def validate(self) -> None:
        if len(self.channels) != 3 or min(self.channels) < 1:
            raise GanclusterError(f"classifier channels must be three positive ints, got {self.channels}")
        if self.feature_dim < 1 or self.n_classes < 2 or self.in_channels < 1:
            raise GanclusterError(f"invalid classifier config {self}")


class DomainClassifier(nn.Module):
    """3 conv blocks (conv-BN-ReLU-maxpool) on 28x28, FC to ``feature_dim``, dropout, FC to logits.

    Penultimate features (after the ReLU of the first FC) play the role of Inception's pool3
    features; ~130k parameters, so a file of ~0.5 MB.
    """

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        super().__init__()
        self.config = config or ClassifierConfig()
        self.config.validate()
        c1, c2, c3 = self.config.channels
        blocks: list[nn.Module] = []
        prev = self.config.in_channels
        for width in (c1, c2, c3):  # 28 -> 14 -> 7 -> 3
            blocks += [nn.Conv2d(prev, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)]
            prev = width
        self.conv = nn.Sequential(*blocks)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c3 * 3 * 3, self.config.feature_dim), nn.ReLU())
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(self.config.feature_dim, self.config.n_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate-layer features ``(n, feature_dim)`` of images ``(n, c, 28, 28)`` in [0, 1]."""
        return self.fc(self.conv(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.dropout(self.features(x)))


def classifier_path(name: str) -> Path:
    """The shipped safetensors file of the classifier for dataset ``name`` (aliases allowed)."""
    from gancluster.data import resolve_name

    canonical = resolve_name(name) if isinstance(name, str) else None
    if canonical not in DOMAIN_CLASSIFIERS:
        raise GanclusterError(
            f"no domain classifier for {name!r}; available: {', '.join(DOMAIN_CLASSIFIERS)} "
            "(use the Inception features for other data)"
        )
    return ASSETS_DIR / DOMAIN_CLASSIFIERS[canonical]


def save_domain_classifier(model: DomainClassifier, path: str | Path, info: dict[str, object]) -> Path:
    """Write weights + config + ``info`` (dataset, test accuracy, ...) as one safetensors file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    config = model.config
    meta = {
        "format": _FORMAT,
        "config": json.dumps(
            {"channels": list(config.channels), "feature_dim": config.feature_dim,
             "n_classes": config.n_classes, "in_channels": config.in_channels}
        ),
        "info": json.dumps(info),
    }  # fmt: skip
    save_file(tensors, str(path), metadata=meta)
    return path


def _read(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read the classifier file {path} ({exc}); reinstall gancluster") from exc
    if meta.get("format") != _FORMAT:
        raise CheckpointError(f"{path} is not a gancluster domain classifier (format {meta.get('format')!r})")
    return tensors, meta


def load_domain_classifier(name: str | Path) -> DomainClassifier:
    """The trained classifier for ``"mnist"`` / ``"fashion-mnist"`` (or a path to such a file), in eval mode.

    ``model.info`` holds what the training script recorded (dataset, test accuracy, epochs, seed) and
    ``model.fingerprint`` a short hash of the file, which keys cached FID statistics.
    """
    path = Path(name) if isinstance(name, Path) or str(name).endswith(".safetensors") else classifier_path(name)
    if not path.is_file():
        raise CheckpointError(
            f"the domain classifier file {path} is missing; train it with "
            "`python benchmarks/train_domain_classifier.py` or reinstall gancluster"
        )
    tensors, meta = _read(path)
    try:
        raw = json.loads(meta["config"])
        config = ClassifierConfig(
            channels=tuple(raw["channels"]), feature_dim=int(raw["feature_dim"]),
            n_classes=int(raw["n_classes"]), in_channels=int(raw["in_channels"]),
        )  # fmt: skip
        model = DomainClassifier(config)
        model.load_state_dict(tensors)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path} does not match the classifier architecture ({exc})") from exc
    model.info = json.loads(meta.get("info", "{}"))
    model.fingerprint = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    model.source = str(path)
    return model.eval()


def _as_images(images: np.ndarray | Tensor, model: DomainClassifier) -> Tensor:
    x = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images, dtype=torch.float32)
    if x.ndim == 3:
        x = x[:, None]
    c = model.config.in_channels
    if x.ndim != 4 or x.shape[1] != c or x.shape[2:] != (28, 28):
        raise GanclusterError(
            f"the domain classifier needs images of shape (n, {c}, 28, 28) in [0, 1], got {tuple(x.shape)}; "
            "use the Inception features for other image sizes"
        )
    return x.clamp(0.0, 1.0)


@torch.no_grad()
def _batched(fn, x: Tensor, batch_size: int) -> np.ndarray:
    if x.shape[0] == 0:
        raise GanclusterError("no images given")
    return torch.cat([fn(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]).double().numpy()


def domain_features(model: DomainClassifier, images: np.ndarray | Tensor, batch_size: int = 500) -> np.ndarray:
    """Penultimate features (float64, ``(n, feature_dim)``) of images in [0, 1]."""
    model.eval()
    return _batched(model.features, _as_images(images, model), batch_size)


def domain_logits(model: DomainClassifier, images: np.ndarray | Tensor, batch_size: int = 500) -> np.ndarray:
    """Class logits (float64, ``(n, n_classes)``) of images in [0, 1]."""
    model.eval()
    return _batched(model, _as_images(images, model), batch_size)


def predict_channels(model: DomainClassifier, images: np.ndarray | Tensor, batch_size: int = 500) -> np.ndarray:
    """Class of every channel of ``(n, c, 28, 28)`` images, ``(n, c)`` int64 (Stacked-MNIST labels)."""
    x = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images, dtype=torch.float32)
    if x.ndim != 4:
        raise GanclusterError(f"expected images (n, c, 28, 28), got shape {tuple(x.shape)}")
    n, c = x.shape[:2]
    per_channel = x.reshape(n * c, 1, *x.shape[2:])
    return domain_logits(model, per_channel, batch_size).argmax(1).reshape(n, c).astype(np.int64)
