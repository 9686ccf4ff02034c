"""Reader and writer for the IDX format of MNIST / Fashion-MNIST (optionally gzipped).

Parsed by hand (header + one ``np.frombuffer``) so no extra dependency is needed and a truncated
or foreign file fails with a message instead of garbage.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from gancluster.errors import DataNotFoundError, GanclusterError

__all__ = ["IDX_DTYPES", "read_idx", "write_idx"]

# IDX type byte -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_TYPE_CODES = {(dt.kind, dt.itemsize): code for code, dt in IDX_DTYPES.items()}


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataNotFoundError(f"IDX file {path} does not exist; check the path")
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise GanclusterError(
            f"could not read IDX file {path}: {exc}; the file is damaged, re-download or reinstall it"
        ) from exc
    return raw


def read_idx(path: str | Path, *, expect_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` detected by content) into a native-endian array."""
    path = Path(path)
    raw = _read_bytes(path)
    fix = "it is not an IDX file (e.g. train-images-idx3-ubyte.gz); re-download or reinstall it"
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise GanclusterError(f"{path} has a wrong magic number {raw[:4].hex() or '(empty file)'}; {fix}")
    dtype, ndim = IDX_DTYPES[raw[2]], raw[3]
    if ndim == 0 or (expect_ndim is not None and ndim != expect_ndim):
        want = f"{expect_ndim}" if expect_ndim is not None else "at least 1"
        raise GanclusterError(f"{path} is a {ndim}-D IDX file but {want} dimension(s) were expected; {fix}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise GanclusterError(f"{path} is truncated inside its header ({len(raw)} bytes); {fix}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "longer than its header says"
        raise GanclusterError(
            f"{path} is {what}: shape {dims} needs {expected} data bytes, found {got}; "
            "the download was probably interrupted, re-download or reinstall it"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))  # a writable native-endian copy


def write_idx(path: str | Path, arr: np.ndarray) -> Path:
    """Write ``arr`` as IDX (gzipped if ``path`` ends in ``.gz``); the inverse of :func:`read_idx`."""
    path = Path(path)
    arr = np.asarray(arr)
    code = _TYPE_CODES.get((arr.dtype.kind, arr.dtype.itemsize))
    if code is None:
        raise GanclusterError(
            f"IDX cannot store dtype {arr.dtype}; use uint8, int8, int16, int32, float32 or float64"
        )
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.astype(IDX_DTYPES[code], copy=False).tobytes()
    path.write_bytes(gzip.compress(data, compresslevel=1) if path.suffix == ".gz" else data)
    return path
