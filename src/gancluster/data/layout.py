"""Where a standard dataset's files are looked for, and the one-line errors when they are not there.

Each colour dataset (CIFAR, STL-10, SVHN, CelebA) is read from a folder the user names with
``data_dir`` (``--data-dir``) or an environment variable; nothing is downloaded. A :class:`Layout`
holds what the messages need: the expected files, and the official page to get them from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gancluster.errors import DataNotFoundError, GanclusterError

from .builtin import _candidate_dirs

__all__ = ["Layout"]


@dataclass(frozen=True)
class Layout:
    """The published layout of one dataset.

    ``folder`` is the folder its archive extracts to ("" when the files come loose); ``data_dir``
    may be that folder or its parent. Any of ``markers`` (paths relative to the folder) identifies
    a folder of this dataset, so a partial one gets "incomplete" rather than "not found".
    """

    title: str
    env: str
    folder: str
    files: str
    get: str
    markers: tuple[str, ...]
    subdirs: tuple[str, ...] = ()

    @property
    def expected(self) -> str:
        return f"{self.folder}/ with {self.files}" if self.folder else self.files

    def how_to_get(self) -> str:
        holds = f"holds {self.folder}/ (or is it)" if self.folder else "holds these files"
        return f"get {self.get}, extract it, and pass --data-dir DIR (or set {self.env}=DIR) where DIR {holds}"

    def find(self, data_dir: str | Path | None, split: str) -> Path:
        """The first folder among ``data_dir`` (else ``$env``) and its subfolders that has a marker."""
        subdirs = tuple(s for s in (self.folder, *self.subdirs) if s)
        dirs, looked = _candidate_dirs(data_dir, self.env, subdirs)
        for folder in dirs:
            if any((folder / m).exists() for m in self.markers):
                return folder
        where = f"looked in {looked}" if dirs else f"no --data-dir given and ${self.env} is not set"
        raise DataNotFoundError(
            f"{self.title} ({split}) not found; {where}. Expected {self.expected}: {self.how_to_get()}"
        )

    def require(self, folder: Path, names: Sequence[str], split: str) -> list[Path]:
        """``folder / name`` for each name, or an "incomplete folder" error naming the missing ones."""
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise DataNotFoundError(
                f"{folder} is an incomplete {self.title} folder: {', '.join(missing)} missing for split "
                f"{split!r} (expected {self.expected}); {self.how_to_get()}"
            )
        return [folder / n for n in names]

    def bad_file(self, path: Path, problem: str) -> GanclusterError:
        """A file that is there but is not what the published dataset holds."""
        return GanclusterError(
            f"{path} is not a valid {self.title} file: {problem}; replace it with the one from {self.get}"
        )
