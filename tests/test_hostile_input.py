"""Hostile input, property-tested with hypothesis: arrays, CSV files, image folders, parameters and
config files, CLI arguments. Each must end in a clear GanclusterError (CLI: exit code 2 and one
line on stderr) or a correct result: never a traceback from deep inside, never a partial output.

The number of cases each property tried is printed at the end of the module (and recorded in the
issue report); every property runs derandomized, so CI sees the same cases each time.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gancluster import ClusterGAN
from gancluster.cli import main
from gancluster.data import load_dataset
from gancluster.errors import GanclusterError
from gancluster.runs import build_estimator

CASES: Counter = Counter()
OUTCOMES: Counter = Counter()

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module", autouse=True)
def case_summary(request):
    yield
    lines = [f"  {name}: {n} cases ({OUTCOMES[name, 'ok']} accepted, {OUTCOMES[name, 'refused']} refused cleanly)"
             for name, n in CASES.items()]
    # printed by conftest.pytest_terminal_summary: output of a fixture's teardown would be captured
    request.config.hypothesis_case_summary = (
        "[hypothesis] cases tried per property:\n" + "\n".join(lines) + f"\n  total: {sum(CASES.values())}"
    )


def record(name: str, ok: bool) -> None:
    CASES[name] += 1
    OUTCOMES[name, "ok" if ok else "refused"] += 1


def tiny(**kw) -> ClusterGAN:
    params = dict(n_clusters=2, max_steps=2, batch_size=4, random_state=0, latent_dim=2, warmup_steps=1)
    params.update(kw)
    return ClusterGAN(**params)


def check_fit(X, name: str) -> None:
    """Fit a tiny model: a clear one-line GanclusterError, or a fitted model whose outputs make sense."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = tiny().fit(X)
    except GanclusterError as exc:
        assert str(exc) and "\n" not in str(exc), repr(str(exc))
        record(name, False)
        return
    n = len(est.labels_)
    assert n == np.asarray(X).shape[0] and set(np.unique(est.labels_)) <= {0, 1}
    proba = est.predict_proba(X)
    assert proba.shape == (n, 2) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    samples, clusters = est.sample(3, random_state=0)
    assert samples.shape == (3, *est.data_shape_) and np.isfinite(samples).all() and set(clusters) <= {0, 1}
    record(name, True)


# ---- arrays -----------------------------------------------------------------------------------------

SPECIAL = [0.0, 1.0, -1.0, 0.5, np.nan, np.inf, -np.inf, 1e30, -1e37, 3e38, 1e-30]
DTYPES = ["float32", "float64", "float16", "int64", "uint8", "bool", "complex64", "object", "<U3", "datetime64[D]"]


@st.composite
def hostile_arrays(draw):
    kind = draw(st.sampled_from(["vectors", "images3", "images4", "1d", "0d", "5d", "constant", "list", "ragged"]))
    n = draw(st.integers(0, 12))
    if kind == "ragged":
        return draw(st.lists(st.lists(st.floats(allow_nan=True), max_size=3), max_size=5))
    shape = {
        "vectors": (n, draw(st.integers(0, 4))),
        "images3": (n, draw(st.integers(0, 5)), draw(st.integers(1, 5))),
        "images4": (n, draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 5))),
        "1d": (n,), "0d": (), "5d": (n, 1, 2, 2, 2), "constant": (n, draw(st.integers(1, 3))), "list": (n, 2),
    }[kind]
    dtype = draw(st.sampled_from(DTYPES))
    if kind == "constant":
        return np.full(shape, draw(st.sampled_from(SPECIAL)), dtype=np.float64)
    if dtype in ("object", "<U3"):
        cell = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3), st.none())
        flat = draw(st.lists(cell, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
        arr = np.empty(int(np.prod(shape)), dtype=object)
        arr[:] = flat
        arr = arr.reshape(shape)
        return arr.astype(str) if dtype == "<U3" else arr
    if dtype == "datetime64[D]":
        return np.zeros(shape, dtype=dtype)
    elements = None
    if dtype.startswith(("float", "complex")):
        elements = st.sampled_from(SPECIAL) | st.floats(-10, 10, width=16 if dtype == "float16" else 32)
        if dtype == "float16":
            elements = st.floats(-10, 10, width=16) | st.sampled_from([0.0, np.nan, np.inf])
    arr = draw(hnp.arrays(np.dtype(dtype), shape, elements=elements))
    return arr.tolist() if kind == "list" else arr


@settings(max_examples=80, **SETTINGS)
@given(X=hostile_arrays())
def test_hostile_arrays(X) -> None:
    check_fit(X, "arrays -> fit")


# ---- parameters ---------------------------------------------------------------------------------------

HOSTILE = [None, True, -1, 0, 2.5, "x", "3", [], float("nan"), float("inf")]
PARAM_POOLS = {
    "n_clusters": [2, 3, 1, np.int64(2), *HOSTILE],
    "priors": [None, [0.5, 0.5], [1.0, 0.0], "x", [[0.5, 0.5]], [0.5, float("nan")], {"a": 1}, 3],
    "latent_dim": [1, 2, *HOSTILE],
    "sigma": [0.1, 1e30, -1.0, *HOSTILE],
    "beta_n": [0.0, 10.0, -1.0, *HOSTILE],
    "loss": [None, "ns", "hinge", "wgan-gp", "l2", 5],
    "n_critic": [None, 1, 2, *HOSTILE],
    "lr": [None, 1e-3, 1e3, -1.0, "1e-3", *HOSTILE],
    "arch": [None, "mlp", "auto", "conv28", 3],
    "real_agreement": [None, 0.0, 1.0, -1.0, *HOSTILE],
    "warmup_steps": [None, 0, 1, -1, 2.5, "x"],
    "recipe": ["best", "faithful", "fast", None, 1],
    "assign": ["encoder", "kmeans", "x", None, ["encoder"]],
    "batch_size": [2, 4, 1, 0, -2, 2.5, "8", None, True],
    "max_steps": [1, 2, 2.0, 0, -1, 2.5, "2", None, True],
    "max_seconds": [None, 0.5, float("inf"), 0, -1, float("nan"), "x"],
    "device": ["cpu", "auto", "tpu", "cuda:7", None, 5],
    "random_state": [None, 0, 2**32 - 1, -1, 2**40, "x", np.random.RandomState(0), np.random.default_rng(0)],
    "verbose": [0, False, "yes", None],
    "betan": [3],  # an unknown parameter (a typo of beta_n)
}


@settings(max_examples=80, **SETTINGS)
@given(params=st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in PARAM_POOLS.items()}))
def test_hostile_parameters(params) -> None:
    params = {"max_steps": 2, "warmup_steps": 1, **params}  # a small budget unless a hostile one is drawn
    X = np.random.default_rng(0).normal(size=(12, 2)).astype(np.float32)
    try:
        est = build_estimator("clustergan", params)  # the config / CLI door: unknown keys are refused
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X)
    except GanclusterError as exc:
        assert str(exc) and "\n" not in str(exc)
        record("parameters -> fit", False)
        return
    assert est.labels_.shape == (12,) and np.isfinite(est.predict_proba(X)).all()
    record("parameters -> fit", True)


# ---- CSV files -----------------------------------------------------------------------------------------

CELLS = st.one_of(
    st.floats(-1e6, 1e6).map(lambda v: f"{v:.4g}"), st.integers(-5, 5).map(str),
    st.sampled_from(["", " ", "nan", "inf", "-inf", "1e400", "abc", "label", "1,5", '"2"', "0x10", "１"]),
)


@st.composite
def csv_texts(draw):
    n_cols = draw(st.integers(1, 4))
    ragged = draw(st.booleans())
    rows = draw(st.lists(st.lists(CELLS, min_size=1 if ragged else n_cols, max_size=5 if ragged else n_cols),
                         max_size=10))
    header = draw(st.sampled_from([None, ["x", "y", "label", "z"][:n_cols], ["a"] * n_cols]))
    lines = ([",".join(header)] if header else []) + [",".join(r) for r in rows]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


@settings(max_examples=60, **SETTINGS)
@given(text=csv_texts(), label_column=st.sampled_from([None, None, "label", 0, -1, 7, "nope"]))
def test_hostile_csv_files(text, label_column) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        path.write_text(text)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = load_dataset(str(path), label_column=label_column)
        except GanclusterError as exc:
            assert str(exc) and "Traceback" not in str(exc)
            record("CSV -> load", False)
            return
        assert ds.X.ndim == 2 and ds.X.dtype == np.float32 and np.isfinite(ds.X).all()
        assert ds.y is None or ds.y.shape == (ds.X.shape[0],)
        record("CSV -> load", True)
        check_fit(ds.X, "CSV -> fit")


# ---- image folders -------------------------------------------------------------------------------------

FILE_KINDS = ["png-L", "png-RGB", "png-RGBA", "png-I;16", "jpg", "bmp", "truncated", "text", "empty", "hidden"]


def write_image(path: Path, kind: str, h: int, w: int, seed: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    if kind in ("text", "empty", "truncated"):
        if kind == "truncated":
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8)).save(buf, "PNG")
            path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        else:
            path.write_bytes(b"" if kind == "empty" else b"not an image at all")
        return
    if kind == "png-I;16":
        Image.fromarray(rng.integers(0, 65535, (h, w), dtype=np.uint16)).save(path)
        return
    mode = {"png-L": "L", "png-RGB": "RGB", "png-RGBA": "RGBA", "jpg": "RGB", "bmp": "RGB", "hidden": "L"}[kind]
    channels = {"L": (), "RGB": (3,), "RGBA": (4,)}[mode]
    Image.fromarray(rng.integers(0, 255, (h, w, *channels), dtype=np.uint8), mode).save(path)


@st.composite
def image_folders(draw):
    files = draw(st.lists(st.tuples(st.sampled_from([None, "a", "b"]), st.sampled_from(FILE_KINDS),
                                    st.integers(1, 6), st.integers(1, 6)), max_size=6))
    resize = draw(st.sampled_from([None, None, (4, 4), (0, 3)]))
    return files, resize


@settings(max_examples=40, **SETTINGS)
@given(spec=image_folders())
def test_hostile_image_folders(spec) -> None:
    files, resize = spec
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "images"
        root.mkdir()
        for i, (sub, kind, h, w) in enumerate(files):
            folder = root / sub if sub else root
            folder.mkdir(exist_ok=True)
            suffix = {"jpg": ".jpg", "bmp": ".bmp"}.get(kind, ".png")
            name = f".hidden{i}{suffix}" if kind == "hidden" else f"img{i}{suffix}"
            write_image(folder / name, kind, h, w, i)
        try:
            ds = load_dataset(str(root), image_size=resize)
        except GanclusterError as exc:
            assert str(exc)
            record("image folder -> load", False)
            return
        assert ds.X.ndim == 4 and np.isfinite(ds.X).all() and ds.X.min() >= 0 and ds.X.max() <= 1
        assert ds.X.shape[0] == sum(kind != "hidden" for _, kind, _, _ in files)
        record("image folder -> load", True)
        check_fit(ds.X, "image folder -> fit")


# ---- the command line and its config files ---------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    X = np.array([[0, 5.0], [5, 0], [-5, -5]])[rng.integers(0, 3, 30)] + 0.3 * rng.standard_normal((30, 2))
    (base / "tiny.csv").write_text("x,y,label\n" + "".join(f"{a:.4f},{b:.4f},{i % 3}\n" for i, (a, b) in enumerate(X)))
    (base / "wide.csv").write_text("".join(f"{a:.3f},{b:.3f},1.0\n" for a, b in X))
    (base / "ragged.csv").write_text("1,2\n3\n")
    (base / "empty.csv").write_text("")
    (base / "notes.txt").write_text("hello")
    (base / "bad.yaml").write_text("params: [unclosed")
    run = base / "run"
    assert main(["train", str(base / "tiny.csv"), "-k", "3", "--max-steps", "2", "--run-dir", str(run),
                 "--set", "verbose=0"]) == 0
    return base


def run_cli(argv: list[str]) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own errors and --help
            code = exc.code
    return code, err.getvalue()


def check_refusal(code: int, err: str, argv: list[str]) -> bool:
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2 and argv:  # (no command at all prints the help on stdout)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert lines and "error" in lines[-1] and len([ln for ln in lines if "error:" in ln]) == 1, (argv, err)
    return code == 0


TRAIN_FLAGS = {
    "-k": ["3", "1", "0", "-2", "x", "2.5", ""],
    "--priors": ["0.5,0.5", "1,0", "x", "0.2,0.3,0.5", "", "nan,nan"],
    "--max-seconds": ["0.5", "-1", "0", "nan", "inf", "x"],
    "--seed": ["0", "-1", "x", "99999999999"],
    "--n-samples": ["10", "0", "-3", "x", "1"],
    "--classes": ["0,1", "7", "x", ""],
    "--ratios": ["0.5,0.5", "1", "x", "-1,2", "0.2,0.3,0.5"],
    "--groups": ["0;1,2", "mnist5", "x;y", ""],
    "--label-column": ["label", "0", "99", "-1", "nope"],
    "--image-size": ["0", "-1", "8", "x"],
    "--split": ["train", "test", "all", "nope"],
    "--eval-split": ["none", "test", "train", "x"],
    "--set": ["lr=0.001", "lr=x", "betan=3", "batch_size=-1", "latent_dim=2", "=", "x", "recipe=faithful",
              "n_critic=0", "loss=l2", "sigma=-1", "priors=[1]", "max_steps=1e9", "random_state=[1]"],
    "--device": ["cpu", "tpu", "cuda:9", ""],
    "--method": ["clustergan", "vae", "nemgan"],
    "--config": ["{base}/bad.yaml", "{base}/nope.yaml", "{base}/tiny.csv", "{base}/cfg.json"],
    "--resume": None,
}
CONFIG_VALUES = st.sampled_from([None, -1, 0, 2, 2.5, "x", [], {}, [1, 2], True, "mnist5"])
CONFIGS = st.fixed_dictionaries({}, optional={
    "method": st.sampled_from(["clustergan", "nemgan", "vae", 3]),
    "data": st.dictionaries(st.sampled_from(["n_samples", "classes", "seed", "split", "ratios", "groups", "colour"]),
                            CONFIG_VALUES, max_size=3),
    "params": st.dictionaries(st.sampled_from(["n_clusters", "batch_size", "latent_dim", "lr", "beta_n", "betan",
                                               "priors", "warmup_steps", "assign"]), CONFIG_VALUES, max_size=3),
    "extra": CONFIG_VALUES,
})


@settings(max_examples=40, **SETTINGS)
@given(data=st.sampled_from(["tiny.csv", "tiny.csv", "ragged.csv", "empty.csv", "notes.txt", "no-such-dataset", "."]),
       flags=st.lists(st.sampled_from(sorted(TRAIN_FLAGS)).flatmap(
           lambda f: st.tuples(st.just(f), st.sampled_from(TRAIN_FLAGS[f] or [None]))), max_size=3),
       config=CONFIGS)
def test_hostile_train_arguments_and_config_files(files, data, flags, config) -> None:
    (files / "cfg.json").write_text(json.dumps(config))
    run = Path(tempfile.mkdtemp(dir=files)) / "out"
    argv = ["train", str(files / data) if data != "no-such-dataset" else data]
    for flag, value in flags:
        argv += [flag] if value is None else [flag, value.format(base=files)]
    argv += ["--max-steps", "2", "--set", "verbose=0", "--run-dir", str(run)]
    code, err = run_cli(argv)
    ok = check_refusal(code, err, argv)
    if ok:
        assert (run / "model.safetensors").is_file() and (run / "metrics.json").is_file()
    else:
        assert not run.exists(), f"a refused run left {sorted(p.name for p in run.iterdir())}: {argv}"
    record("CLI train + config file", ok)


@settings(max_examples=40, **SETTINGS)
@given(command=st.sampled_from(["sample", "predict", "evaluate", "datasets", "frobnicate", None]),
       model=st.sampled_from(["run", "run/model.safetensors", "run/checkpoint.safetensors", "tiny.csv", "nope", ""]),
       data=st.sampled_from(["tiny.csv", "wide.csv", "ragged.csv", "nope.csv", "notes.txt"]),
       n=st.sampled_from(["5", "0", "-1", "x", "1e3"]), cluster=st.sampled_from([None, "0", "2", "3", "-1", "x"]),
       out=st.sampled_from(["o.npz", "o.csv", "o.png", "o.npy", "o.txt", "missing/o.npz", None]),
       extra=st.lists(st.sampled_from(["--proba", "--device=tpu", "--seed=-1", "--split=test", "--help", "-v"]),
                      max_size=2))
def test_hostile_model_commands(files, command, model, data, n, cluster, out, extra) -> None:
    outdir = Path(tempfile.mkdtemp(dir=files))
    target = outdir / out if out else None
    argv = [] if command is None else [command]
    if command in ("sample", "predict", "evaluate"):
        argv.append(str(files / model) if model else model)
    if command == "predict":
        argv.append(str(files / data))
    if command == "sample":
        argv += ["-n", n] + (["--cluster", cluster] if cluster else [])
    if target is not None and command in ("sample", "predict"):
        argv += ["--out", str(target)]
    argv += extra
    code, err = run_cli(argv)
    ok = check_refusal(code, err, argv)
    if not ok and target is not None:
        assert not target.exists(), f"a refused command left {target}: {argv}"
    record("CLI predict/sample/evaluate", ok)
