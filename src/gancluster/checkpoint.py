"""Checkpoints: one safetensors file with weights, optimizer tensors and RNG states; JSON metadata.

Nothing is ever unpickled. The file is written to a temporary name, fsynced, then renamed over the
old one, so a kill at any moment leaves either the previous checkpoint or the new one, never half of
one. Metadata carry a format version and the method name so foreign files are refused clearly, and a
SHA-256 of the metadata and of every tensor's name, dtype, shape and bytes (safetensors itself does
not checksum tensor data), so a bit flip anywhere in a file is refused instead of loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .errors import CheckpointError, OutputError

FORMAT = "gancluster"
FORMAT_VERSION = 2  # 2: adds the "sha256" checksum; version 1 files (no checksum) still load
_META_KEY = "gancluster"
_CHECKSUM_KEY = "sha256"


def checksum(tensors: dict[str, Tensor], meta: dict[str, Any]) -> str:
    """SHA-256 of the metadata (without the checksum itself) and of every tensor, in name order."""
    digest = hashlib.sha256()
    # through JSON first, so that the digest of what is saved equals the digest of what is loaded back
    plain = json.loads(json.dumps({k: v for k, v in meta.items() if k != _CHECKSUM_KEY}))
    digest.update(json.dumps(plain, sort_keys=True).encode("utf-8"))
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(f"\n{name}|{t.dtype}|{tuple(t.shape)}\n".encode("utf-8"))
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _flatten_optimizer(prefix: str, state: dict[str, Any], tensors: dict[str, Tensor]) -> dict[str, Any]:
    """Move the tensors of an optimizer state_dict into ``tensors``; return the JSON rest."""
    plain: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for idx, per_param in state["state"].items():
        entry = {}
        for key, value in per_param.items():
            if torch.is_tensor(value):
                name = f"{prefix}.{idx}.{key}"
                tensors[name] = value.detach().cpu().contiguous()
                entry[key] = {"tensor": name}
            else:
                entry[key] = value
        plain["state"][str(idx)] = entry
    return plain


def _unflatten_optimizer(plain: dict[str, Any], tensors: dict[str, Tensor]) -> dict[str, Any]:
    state = {}
    for idx, entry in plain["state"].items():
        state[int(idx)] = {
            k: tensors[v["tensor"]] if isinstance(v, dict) and "tensor" in v else v for k, v in entry.items()
        }
    groups = [dict(g) for g in plain["param_groups"]]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    return {"state": state, "param_groups": groups}


def rng_state() -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Global RNG states of python, numpy and torch (JSON part, tensor part)."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    meta = {
        "numpy": [np_state[0], np_state[1].tolist(), *[int(v) if i != 2 else float(v) for i, v in enumerate(np_state[2:])]],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    return meta, tensors


def set_rng_state(meta: dict[str, Any], tensors: dict[str, Tensor]) -> None:
    n = meta["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), int(n[2]), int(n[3]), float(n[4])))
    p = meta["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))
    torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
        if states:
            torch.cuda.set_rng_state_all(states)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsynced temporary file and an atomic rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(
            f"cannot write {path}: {exc.strerror or exc}; the previous file (if any) is unchanged. "
            "Choose a writable folder."
        ) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            # mkstemp creates 0600; give the file the permissions a plain open() would have
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fh.fileno(), 0o666 & ~umask)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputError(
            f"cannot write {path}: {exc.strerror or exc}; the previous file (if any) is unchanged. "
            "Free disk space or choose a writable folder."
        ) from exc
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable. Best effort: some file systems refuse to fsync a folder."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def remove_stale_temp_files(path: str | Path) -> list[Path]:
    """Delete temporary files a killed :func:`atomic_write_bytes` of ``path`` left behind."""
    path = Path(path)
    removed = []
    if path.parent.is_dir():
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def save_file(path: str | Path, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    """Save tensors plus a JSON metadata dict as one safetensors file, atomically."""
    from safetensors.torch import save

    contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    full = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta}
    try:
        full[_CHECKSUM_KEY] = checksum(contiguous, full)
        header = {_META_KEY: json.dumps(full)}
    except (TypeError, ValueError) as exc:  # a bug in what the caller put in meta, not a user error
        raise TypeError(f"checkpoint metadata must be plain JSON: {exc}") from exc
    atomic_write_bytes(Path(path), save(contiguous, metadata=header))


def load_file(path: str | Path, expect_method: str | None = None) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Load a gancluster safetensors file; every way it can be wrong is a CheckpointError."""
    from safetensors import safe_open

    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file; give the .safetensors file in it")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # noqa: BLE001 - safetensors raises several error types
        raise CheckpointError(
            f"{path} is not a readable gancluster checkpoint (truncated, corrupt or another format: {exc}). "
            "Checkpoints are .safetensors files written by gancluster; pickled .pt files are never loaded."
        ) from exc
    if _META_KEY not in header:
        raise CheckpointError(f"{path} is a safetensors file but not a gancluster checkpoint (no metadata)")
    try:
        meta = json.loads(header[_META_KEY])
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: the checkpoint metadata is corrupt ({exc})") from exc
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: the checkpoint metadata is corrupt (not a mapping)")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a gancluster checkpoint")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: the checkpoint metadata is corrupt (format version {version!r})")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format version {version}, this gancluster reads up to {FORMAT_VERSION}; upgrade gancluster"
        )
    if version >= 2:
        stored = meta.get(_CHECKSUM_KEY)
        if not isinstance(stored, str) or stored != checksum(tensors, meta):
            raise CheckpointError(
                f"{path} is corrupt: its checksum does not match its contents (a bit flip, a damaged copy or an "
                "edited file); use another copy or an earlier checkpoint"
            )
    if expect_method is not None and meta.get("method") != expect_method:
        raise CheckpointError(
            f"{path} holds a {meta.get('method')!r} model, expected {expect_method!r}; use the matching method"
        )
    return tensors, meta


def _tensors_out(value: Any, prefix: str, tensors: dict[str, Tensor]) -> Any:
    """A JSON-ready copy of ``value`` whose tensors moved into ``tensors`` (as ``{"tensor": name}``)."""
    if torch.is_tensor(value):
        tensors[prefix] = value.detach().cpu().contiguous()
        return {"tensor": prefix}
    if isinstance(value, dict):
        return {str(k): _tensors_out(v, f"{prefix}.{k}", tensors) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tensors_out(v, f"{prefix}.{i}", tensors) for i, v in enumerate(value)]
    return value


def _tensors_in(value: Any, tensors: dict[str, Tensor]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"tensor"} and isinstance(value["tensor"], str):
            return tensors[value["tensor"]]
        return {k: _tensors_in(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [_tensors_in(v, tensors) for v in value]
    return value


def pack_training_state(
    method: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer],
    schedulers: dict[str, Any] | None = None,
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Weights, optimizer and scheduler states and global RNG states as (tensors, JSON meta)."""
    tensors = {f"model.{k}": v for k, v in method.state_dict().items()}
    optim_meta = {name: _flatten_optimizer(f"optim.{name}", opt.state_dict(), tensors) for name, opt in optimizers.items()}
    sched_meta = {name: _tensors_out(sched.state_dict(), f"sched.{name}", tensors)
                  for name, sched in (schedulers or {}).items()}
    rng_meta, rng_tensors = rng_state()
    tensors.update(rng_tensors)
    return tensors, {"optimizers": optim_meta, "schedulers": sched_meta, "rng": rng_meta}


def unpack_training_state(
    method: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer],
    tensors: dict[str, Tensor],
    meta: dict[str, Any],
    path: str | Path = "checkpoint",
    schedulers: dict[str, Any] | None = None,
) -> None:
    """Restore what :func:`pack_training_state` saved; anything that does not fit is a CheckpointError.

    Everything is checked and decoded before the first piece of state changes, so a refused
    checkpoint leaves the model as it was.
    """
    try:
        saved_optims = meta["optimizers"]
        if sorted(saved_optims) != sorted(optimizers):
            raise CheckpointError(
                f"{path} holds optimizers {sorted(saved_optims)}, this model has {sorted(optimizers)}: it was "
                "trained with other settings"
            )
        optim_states = {name: _unflatten_optimizer(saved_optims[name], tensors) for name in optimizers}
        for name, opt in optimizers.items():
            sizes = [len(g["params"]) for g in optim_states[name]["param_groups"]]
            if sizes != [len(g["params"]) for g in opt.param_groups]:
                raise CheckpointError(f"{path}: optimizer {name!r} does not match this model's parameters")
        saved_scheds = meta.get("schedulers") or {}
        if sorted(saved_scheds) != sorted(schedulers or {}):
            raise CheckpointError(
                f"{path} holds schedulers {sorted(saved_scheds)}, this model has {sorted(schedulers or {})}"
            )
        sched_states = {name: _tensors_in(state, tensors) for name, state in saved_scheds.items()}
        load_weights(method, tensors, path)
        for name, opt in optimizers.items():
            opt.load_state_dict(optim_states[name])
        for name, sched in (schedulers or {}).items():
            sched.load_state_dict(sched_states[name])
        set_rng_state(meta["rng"], tensors)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError, AttributeError) as exc:
        raise CheckpointError(
            f"{path} does not hold a complete training state for this model ({type(exc).__name__}: {exc}); "
            "it may be a model file rather than a training checkpoint, or come from another version"
        ) from exc


def load_weights(method: torch.nn.Module, tensors: dict[str, Tensor], path: str | Path = "checkpoint") -> None:
    """Load ``model.*`` tensors, refusing any mismatch in names or shapes with a clear message."""
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    own = method.state_dict()
    missing = sorted(set(own) - set(weights))
    extra = sorted(set(weights) - set(own))
    bad = [k for k in own if k in weights and own[k].shape != weights[k].shape]
    if missing or extra or bad:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}" if extra else (
            f"{bad[0]} has shape {tuple(weights[bad[0]].shape)}, expected {tuple(own[bad[0]].shape)}")
        raise CheckpointError(
            f"{path} does not match this model ({detail}): it was trained with another method, "
            "data shape or architecture"
        )
    method.load_state_dict(weights)
