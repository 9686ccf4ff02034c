"""Reading the few pickled dataset files that exist only as pickles (MNIST's ``mnist.pkl.gz``, CIFAR).

gancluster never unpickles anything else. Even these go through :class:`ArraysOnlyUnpickler`, which
builds Python containers, strings and numbers (they need no globals) and resolves only the numpy
names an array needs, so a tampered file cannot run code: any other global (``os.system``, a class)
is refused before it is looked up.
"""

from __future__ import annotations

import importlib
import pickle
from typing import IO, Any

__all__ = ["ArraysOnlyUnpickler", "load_arrays_pickle"]

# (module, name) -> modules to resolve it from (numpy 2 renamed numpy.core -> numpy._core)
_CORE = ("numpy._core.multiarray", "numpy.core.multiarray")
_NUMERIC = ("numpy._core.numeric", "numpy.core.numeric")
_ALLOWED: dict[tuple[str, str], tuple[str, ...]] = {
    ("numpy.core.multiarray", "_reconstruct"): _CORE,  # ndarray, protocols 0-4
    ("numpy._core.multiarray", "_reconstruct"): _CORE,
    ("numpy.core.numeric", "_frombuffer"): _NUMERIC,  # ndarray, protocol 5
    ("numpy._core.numeric", "_frombuffer"): _NUMERIC,
    ("numpy", "ndarray"): ("numpy",),
    ("numpy", "dtype"): ("numpy",),
    ("_codecs", "encode"): ("_codecs",),  # how Python 3 writes bytes at protocol <= 2
}


class ArraysOnlyUnpickler(pickle.Unpickler):
    """Allows dicts, lists, tuples, strings, bytes, numbers and numpy arrays; refuses every other global."""

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle protocol
        modules = _ALLOWED.get((module, name))
        if modules is None:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only dicts, lists, strings, numbers and numpy arrays "
                "are allowed in a dataset pickle"
            )
        for mod in modules:
            try:
                return getattr(importlib.import_module(mod), name)
            except (ImportError, AttributeError):
                continue
        raise pickle.UnpicklingError(f"cannot resolve {module}.{name} in this numpy")


def load_arrays_pickle(f: IO[bytes], encoding: str = "latin1") -> Any:
    """Unpickle one object from ``f`` with :class:`ArraysOnlyUnpickler`.

    ``latin1`` reads Python 2 pickles (the published MNIST and CIFAR files) with their numpy arrays
    intact; their ``str`` keys and names come back as ``str``, Python 3's ``bytes`` stay ``bytes``.
    Raises ``pickle.UnpicklingError`` (a refused global or a broken stream), ``EOFError`` and the
    other errors of a damaged file; callers turn them into a message that names the file.
    """
    return ArraysOnlyUnpickler(f, encoding=encoding).load()
