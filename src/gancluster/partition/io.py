"""Save / load a trained partitioner on its own (one safetensors file, no pickle).

Lets benchmarks train the partitioner once and reuse it across GAN runs and ablation rows; the
file records the data shape, the number of partitions and the architecture so a mismatch is a clear
:class:`~gancluster.errors.CheckpointError` instead of a shape error deep inside torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..checkpoint import load_file, save_file
from ..errors import CheckpointError
from .lipschitz import Partitioner

KIND = "pgmgan-partitioner"


def save_partitioner(partitioner: Partitioner, path: str | Path, info: dict[str, Any] | None = None) -> Path:
    """Write the partitioner's weights and its shape facts to ``path``."""
    path = Path(path)
    tensors = {f"model.{k}": v for k, v in partitioner.state_dict().items()}
    meta = {"method": KIND, "data_shape": list(partitioner.data_shape), "n_partitions": partitioner.n_partitions,
            "kind": partitioner.kind, "info": info or {}}
    save_file(path, tensors, meta)
    return path


def load_partitioner(partitioner: Partitioner, path: str | Path) -> dict[str, Any]:
    """Load weights from ``path`` into ``partitioner``; refuse files made for other data or architectures."""
    tensors, meta = load_file(path, expect_method=KIND)
    shape = tuple(int(s) for s in meta.get("data_shape", ()))
    if shape != partitioner.data_shape:
        raise CheckpointError(
            f"the partitioner in {path} was trained on samples of shape {shape}, this data has shape "
            f"{partitioner.data_shape}; train a new partitioner (leave partitioner_path unset) or pass matching data"
        )
    if int(meta.get("n_partitions", -1)) != partitioner.n_partitions or meta.get("kind") != partitioner.kind:
        raise CheckpointError(
            f"the partitioner in {path} is a {meta.get('kind')!r} with {meta.get('n_partitions')} partitions, "
            f"expected a {partitioner.kind!r} with {partitioner.n_partitions}; set n_clusters / partitioner to match"
        )
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    own = partitioner.state_dict()
    if set(weights) != set(own) or any(own[k].shape != weights[k].shape for k in own):
        raise CheckpointError(f"the partitioner in {path} has another architecture (widths/depth) than this one")
    partitioner.load_state_dict(weights)
    return meta
