"""Shared plumbing of the benchmark scripts: machine description and BENCHMARKS.md sections.

Each benchmark owns one section of BENCHMARKS.md, delimited by HTML comments, and rewrites only
that section (under a file lock), so benchmarks can run in any order or at the same time.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Hashable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
HEADER = """# Benchmarks

Numbers produced by the scripts in `benchmarks/`; each section says the command that produced it,
the seeds, the wall time and the machine. Means over seeds (with the spread), never best runs.
Re-run a script to refresh its section; the other sections are left alone.
"""


def machine() -> str:
    """One line describing where the numbers were measured."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPU cores ({cpu}), torch {torch.__version__} with {torch.get_num_threads()} threads, "
            f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")


def command(drop_flags: tuple[str, ...] = ("--report-only",), drop_options: tuple[str, ...] = ("--note",)) -> str:
    """This script's command line without ``drop_flags`` and ``drop_options`` (with their values).

    A ``--note`` is prose already shown in the section, and ``--report-only`` only rebuilds a section
    from stored results, so neither belongs in the command that reproduces the numbers.
    """
    args, shown, i = sys.argv[1:], [], 0
    while i < len(args):
        name = args[i].split("=", 1)[0]
        if name in drop_options and "=" not in args[i]:
            i += 2  # "--note TEXT"
            continue
        if name not in drop_flags and name not in drop_options:
            shown.append(args[i])
        i += 1
    return "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *shown])


def append_row(path: Path, row: dict) -> None:
    """Append ``row`` as one JSON line to ``path`` (created with its folder): one line per finished run,
    so an interrupted benchmark keeps the runs it finished and ``newest_rows`` can read them back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps(row) + "\n")


def read_rows(path: Path) -> list[dict]:
    """Every row of the JSONL file ``path`` written by :func:`append_row`; [] when it does not exist."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def newest_rows(path: Path, key: Callable[[dict], Hashable], keep: Callable[[dict], bool] = lambda r: True) -> dict:
    """The last row of the JSONL file ``path`` for each ``key(row)`` among the rows ``keep`` accepts
    (later runs of the same configuration replace earlier ones); {} when the file does not exist."""
    return {key(row): row for row in read_rows(path) if keep(row)}


def parse_overrides(pairs: list[str]) -> dict:
    """``["warmup_steps=3000", "partitioner='mlp'"]`` -> {"warmup_steps": 3000, "partitioner": "mlp"}.

    Values are YAML scalars (numbers, true/false, null, strings; quotes optional); nothing is evaluated.
    """
    import yaml

    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"--set expects name=value, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key] = yaml.safe_load(value)
    return out


def mean_std(values: list[float], digits: int = 3) -> str:
    """``mean ± std`` over seeds (population std; one value prints alone)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 1:
        return f"{arr[0]:.{digits}f}"
    return f"{arr.mean():.{digits}f} ± {arr.std():.{digits}f}"


def mean_std_of(rows: list[dict], key: str, digits: int = 3) -> str:
    """``mean_std`` of ``key`` over the rows that have it; '-' when none does (rows from older runs)."""
    values = [r[key] for r in rows if key in r]
    return mean_std(values, digits) if values else "-"


def write_section(name: str, body: str) -> Path:
    """Replace (or append) the section ``name`` of BENCHMARKS.md with ``body``."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{body.rstrip()}\n{end}\n"
    with open(ROOT / ".benchmarks.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            _, tail = rest.split(end, 1)
            text = head + block.rstrip("\n") + tail
        else:
            text = text.rstrip("\n") + "\n\n" + block
        tmp = BENCHMARKS_MD.with_suffix(".md.tmp")
        tmp.write_text(text)
        os.replace(tmp, BENCHMARKS_MD)
    return BENCHMARKS_MD


def save_results(name: str, payload: object) -> Path:
    """Raw measurements as ``benchmarks/results/<name>.json`` (next to the Markdown they summarise)."""
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1))
    return path


def median_of(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def load_range(rows: list[dict], first: str = "load", last: str | None = None) -> str:
    """``min-max`` of the load averages recorded with ``rows`` (for a column of a timing table)."""
    return f"{min(r[first] for r in rows):.1f}-{max(r[last or first] for r in rows):.1f}"
