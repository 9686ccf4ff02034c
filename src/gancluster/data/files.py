"""Loaders for the user's own data: ``.npy``, ``.npz``, ``.csv``/``.tsv`` and folders of images.

Nothing here executes code from a file (``allow_pickle=False``). Every rejection names the file and,
where it helps, the line, column, key or image at fault, plus what to change.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from gancluster.errors import DataNotFoundError, GanclusterError

from .arrays import as_data_array, encode_labels
from .dataset import Dataset
from .lazy import LazyImages

__all__ = [
    "ARRAY_SUFFIXES",
    "IMAGE_SUFFIXES",
    "LABEL_COLUMN_NAMES",
    "NPZ_LABEL_KEYS",
    "NPZ_X_KEYS",
    "image_folder_source",
    "load_csv",
    "load_file",
    "load_image_folder",
    "load_npy",
    "load_npz",
    "read_image",
]

ARRAY_SUFFIXES = (".npy", ".npz", ".csv", ".tsv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
NPZ_X_KEYS = ("X", "x", "data", "arr_0")
NPZ_LABEL_KEYS = ("y", "Y", "labels", "label")
# A CSV header column with one of these names is taken as the labels when label_column is not given.
LABEL_COLUMN_NAMES = ("label", "labels", "class", "target")


def load_file(
    path: str | Path,
    *,
    label_column: str | int | None = None,
    image_size: tuple[int, int] | None = None,
) -> Dataset:
    """Load a user file or image folder, choosing the reader by suffix."""
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"no file or folder at {path}; check the path")
    if label_column is not None and path.suffix.lower() not in (".csv", ".tsv"):
        raise GanclusterError(
            f"label_column only applies to .csv/.tsv files, not {path.name}; "
            "for .npz store the labels under the key 'y', for images use one subfolder per class"
        )
    if path.is_dir():
        return load_image_folder(path, image_size=image_size)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return load_npy(path)
    if suffix == ".npz":
        return load_npz(path)
    if suffix in (".csv", ".tsv"):
        return load_csv(path, label_column=label_column)
    raise GanclusterError(
        f"don't know how to read {path.name!r}: supported are {', '.join(ARRAY_SUFFIXES)} files "
        f"and folders of {'/'.join(s[1:].upper() for s in IMAGE_SUFFIXES)} images"
    )


def _np_load(path: Path):
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as exc:
        raise GanclusterError(f"could not open {path}: {exc}") from exc
    if magic != b"\x93NUMPY" and not magic.startswith(b"PK"):
        raise GanclusterError(
            f"{path} is not a NumPy .npy/.npz file (no NumPy header); re-save it with np.save / np.savez"
        )
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise GanclusterError(
                f"{path} holds Python objects (dtype object), which are not loaded for safety; "
                "save a numeric array instead, e.g. np.asarray(X, dtype=np.float32)"
            ) from exc
        raise GanclusterError(f"could not read {path} as a NumPy file: {exc}") from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise GanclusterError(
            f"could not read {path} as a NumPy file ({exc}); re-save it with np.save / np.savez"
        ) from exc


def load_npy(path: str | Path) -> Dataset:
    """An ``.npy`` array is X only (no labels)."""
    path = Path(path)
    arr = _np_load(path)
    if not isinstance(arr, np.ndarray):
        raise GanclusterError(f"{path} is an .npz archive despite its name; rename it to .npz")
    X = as_data_array(arr, f"{path}")
    return Dataset(X=X, name=path.stem, meta={"source": str(path)})


def load_npz(path: str | Path) -> Dataset:
    """X from key ``X``/``x``/``data``/``arr_0``; labels from ``y``/``labels``/``label`` if present."""
    path = Path(path)
    archive = _np_load(path)
    if isinstance(archive, np.ndarray):
        raise GanclusterError(f"{path} is a single .npy array despite its name; rename it to .npy")
    with archive:
        keys = list(archive.files)
        x_key = next((k for k in NPZ_X_KEYS if k in keys), None)
        if x_key is None:
            raise GanclusterError(
                f"{path} has no data array: found keys {keys}, expected one of {list(NPZ_X_KEYS)}; "
                "re-save with np.savez(path, X=data, y=labels)"
            )
        y_key = next((k for k in NPZ_LABEL_KEYS if k in keys), None)
        try:
            X_raw = archive[x_key]
            y_raw = archive[y_key] if y_key is not None else None
        except ValueError as exc:
            raise GanclusterError(
                f"{path}: array {x_key!r} or {y_key!r} holds Python objects, which are not loaded "
                "for safety; save numeric (or text) arrays"
            ) from exc
    X = as_data_array(X_raw, f"array {x_key!r} in {path}")
    meta: dict = {"source": str(path)}
    y = names = None
    if y_raw is not None:
        y, names, values = encode_labels(y_raw, f"labels {y_key!r} in {path}")
        if y.shape[0] != X.shape[0]:
            raise GanclusterError(
                f"{path}: {y_key!r} has {y.shape[0]} labels but {x_key!r} has {X.shape[0]} samples; "
                "they must match one to one"
            )
        if values is not None:
            meta["label_values"] = values
    return Dataset(X=X, y=y, name=path.stem, class_names=names, meta=meta)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _read_rows(path: Path, delimiter: str) -> tuple[list[list[str]], list[int]]:
    """Non-blank rows and their 1-based line numbers."""
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append([cell.strip() for cell in row])
                    lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        raise GanclusterError(f"{path} is not UTF-8 text ({exc}); is it really a CSV file?") from exc
    except csv.Error as exc:
        raise GanclusterError(f"{path} is not valid CSV: {exc}") from exc
    return rows, lines


def _has_header(rows: list[list[str]]) -> bool:
    """A first row with text where the second row has a number is a header."""
    first = [_is_number(c) for c in rows[0]]
    if len(rows) == 1:
        return not any(first)
    second = [_is_number(c) for c in rows[1]]
    return any(not a and b for a, b in zip(first, second))


def _label_index(
    label_column: str | int | None, header: list[str] | None, n_cols: int, path: Path
) -> int | None:
    if label_column is None:
        if header is None:
            return None
        found = [i for i, h in enumerate(header) if h.lower() in LABEL_COLUMN_NAMES]
        return found[0] if len(found) == 1 else None
    if isinstance(label_column, str) and not label_column.lstrip("-").isdigit():
        if header is None:
            raise GanclusterError(
                f"label_column={label_column!r} names a column but {path} has no header row; "
                "pass the column's index instead (0 = first, -1 = last)"
            )
        if label_column not in header:
            raise GanclusterError(
                f"{path} has no column {label_column!r}; its header is {header}"
            )
        return header.index(label_column)
    if isinstance(label_column, bool) or not isinstance(label_column, (int, str)):
        raise GanclusterError(f"label_column must be a column name or index, got {label_column!r}")
    index = int(label_column)
    if not -n_cols <= index < n_cols:
        raise GanclusterError(
            f"label_column={index} is out of range: {path} has {n_cols} columns (0..{n_cols - 1})"
        )
    return index % n_cols


def load_csv(path: str | Path, *, label_column: str | int | None = None) -> Dataset:
    """Numeric CSV/TSV; header auto-detected; labels from ``label_column`` or a 'label' header."""
    path = Path(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    rows, lines = _read_rows(path, delimiter)
    if not rows:
        raise GanclusterError(f"{path} is empty; it needs one row per sample of numbers")
    header = rows[0] if _has_header(rows) else None
    if header is not None:
        rows, lines = rows[1:], lines[1:]
        if not rows:
            raise GanclusterError(f"{path} has a header row but no data rows")
    n_cols = len(header if header is not None else rows[0])
    ref_line = 1 if header is not None else lines[0]
    for row, line in zip(rows, lines):
        if len(row) != n_cols:
            raise GanclusterError(
                f"{path} line {line} has {len(row)} fields but line {ref_line} has {n_cols}; "
                "every row needs the same number of columns"
            )
    lab = _label_index(label_column, header, n_cols, path)
    table = np.array(rows, dtype=str)
    feat_cols = [j for j in range(n_cols) if j != lab]
    if not feat_cols:
        raise GanclusterError(f"{path} has only the label column; it needs feature columns too")

    def col_name(j: int) -> str:
        return f"column {j + 1}" + (f" ({header[j]!r})" if header is not None else "")

    try:
        values = table[:, feat_cols].astype(np.float64)
    except ValueError:
        for row, line in zip(rows, lines):  # only on failure: find the first bad cell
            for j in feat_cols:
                if not _is_number(row[j]):
                    what = "an empty cell" if row[j] == "" else f"text {row[j]!r}"
                    hint = ""
                    if lab is None and not any(_is_number(r[j]) for r in rows[:100]):
                        hint = f"; if that column holds the class labels, pass label_column={j}"
                    raise GanclusterError(
                        f"{path} line {line}, {col_name(j)}: {what} where a number is needed; "
                        f"feature columns must be numeric{hint}"
                    ) from None
        raise
    meta: dict = {"source": str(path)}
    y = names = None
    if lab is not None:
        raw = table[:, lab]
        empty = np.flatnonzero(raw == "")
        if empty.size:
            raise GanclusterError(f"{path} line {lines[empty[0]]}: the label ({col_name(lab)}) is empty")
        numeric = all(_is_number(v) for v in np.unique(raw))
        y, names, label_values = encode_labels(
            raw.astype(np.float64) if numeric else raw, f"labels in {col_name(lab)} of {path}"
        )
        meta["label_column"] = header[lab] if header is not None else lab
        if label_values is not None:
            meta["label_values"] = label_values
    X = as_data_array(values, str(path))
    if header is not None:
        meta["columns"] = [header[j] for j in feat_cols]
    return Dataset(X=X, y=y, name=path.stem, class_names=names, meta=meta)


def _visible(p: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in p.relative_to(root).parts)


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    it = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p for p in it if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and _visible(p, folder)
    )


def read_image(path: Path) -> np.ndarray:
    """One image file as ``(1, c, h, w)``: uint8 grey (c = 1) or RGB (c = 3), float32 [0, 1] for 16-bit grey.

    Palette, alpha and CMYK images become RGB. An unreadable file is an error that names it.
    """
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode.startswith("I;16"):
                arr = np.asarray(im, dtype=np.float32)[None] / 65535
            elif mode in ("1", "L", "LA"):
                arr = np.asarray(im.convert("L"), dtype=np.uint8)[None]
            else:
                arr = np.moveaxis(np.asarray(im.convert("RGB"), dtype=np.uint8), 2, 0)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise GanclusterError(
            f"could not read image {path}: {exc}; remove or replace that file"
        ) from exc
    return arr[None]


def image_folder_source(path: str | Path) -> LazyImages:
    """The files and labels of an image folder, decoded later (see :mod:`.lazy`).

    Class subfolders (labels = folder names, nested folders allowed) or a flat folder (no labels);
    files whose suffix is not an image suffix are ignored, hidden files and folders too.
    """
    root = Path(path)
    flat = _images_in(root, recursive=False)
    class_dirs = [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    per_class = [(d.name, _images_in(d, recursive=True)) for d in class_dirs]
    per_class = [(name, files) for name, files in per_class if files]
    kinds = "/".join(s[1:].upper() for s in IMAGE_SUFFIXES)
    if flat and per_class:
        raise GanclusterError(
            f"{root} mixes {len(flat)} images at the top level (e.g. {flat[0].name}) with class "
            f"subfolders ({', '.join(n for n, _ in per_class[:5])}); put every image in a class "
            "subfolder for labelled data, or use a flat folder for unlabelled data"
        )
    if not flat and not per_class:
        raise DataNotFoundError(
            f"no {kinds} images found in {root} or its subfolders; put images there, "
            "one subfolder per class for labelled data"
        )
    files = flat if flat else [f for _, fs in per_class for f in fs]
    labels = None if flat else np.repeat(np.arange(len(per_class)), [len(fs) for _, fs in per_class])
    meta: dict = {"source": str(root), "files": [str(f.relative_to(root)) for f in files]}
    return LazyImages(
        name=root.name,
        n=len(files),
        read=lambda positions: (read_image(files[p]) for p in positions),
        y=labels,
        class_names=[name for name, _ in per_class] if per_class else None,
        meta=meta,
        describe=lambda p: str(files[p]),
    )


def load_image_folder(
    path: str | Path, *, image_size: tuple[int, int] | None = None, crop: tuple[int, int] | None = None
) -> Dataset:
    """Images in class subfolders (labels = folder names) or a flat folder (no labels).

    Grey images stay one channel unless the folder also holds colour ones (then all are RGB);
    ``crop`` takes the central (h, w) of each image, then ``image_size`` resizes it. Images of
    different sizes need one of the two.
    """
    return image_folder_source(path).load(image_size, crop)
