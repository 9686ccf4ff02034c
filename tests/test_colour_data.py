"""Colour datasets read from tiny files written in each dataset's exact published format.

Every writer here follows the published layout independently of the loaders (CIFAR's pickled dicts
with bytes keys, STL-10's column-major planes via the official reader's transposes, SVHN's
(h, w, c, n) MATLAB arrays, CelebA's attribute file), and the checks compare pixels at known
(c, h, w) positions, so a transposition or a wrong crop offset fails.
"""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import scipy.io
from PIL import Image

from gancluster.cli import main
from gancluster.config import from_dict, load_config_file
from gancluster.data import DATASETS, Dataset, load_dataset, load_image_folder
from gancluster.errors import DataNotFoundError, GanclusterError
from gancluster.experiments import packaged_configs
from gancluster.runs import DataSpec, build_estimator

from _checks import raises as _raises

COLOUR_ENVS = ("GANCLUSTER_CIFAR10", "GANCLUSTER_CIFAR100", "GANCLUSTER_STL10", "GANCLUSTER_SVHN", "GANCLUSTER_CELEBA")
CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CELEBA_ATTRS = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()


@pytest.fixture(autouse=True)
def _no_dataset_env(monkeypatch):
    for env in COLOUR_ENVS:
        monkeypatch.delenv(env, raising=False)


def raises(*words: str, exc: type[Exception] = GanclusterError):
    """Every message here must be one line: it is what the CLI prints."""
    return _raises(*words, exc=exc, one_line=True)


def images(n: int, h: int, w: int, seed: int) -> np.ndarray:
    """Random uint8 (n, 3, h, w) images, each with one saturated marker pixel at a known (c, h, w)."""
    X = np.random.default_rng(seed).integers(0, 200, size=(n, 3, h, w), dtype=np.uint8)
    X[:, 2, 1, w - 2] = 255  # blue, row 1, second-to-last column: not symmetric under h <-> w
    return X


# --- CIFAR --------------------------------------------------------------------------------------


def dump(path, obj, protocol=2):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def cifar_rows(X: np.ndarray) -> np.ndarray:
    """The published row layout: 1024 red values (row-major 32x32), then 1024 green, then 1024 blue."""
    return np.stack([np.concatenate([x[0].ravel(), x[1].ravel(), x[2].ravel()]) for x in X])


def write_cifar10(root, n=4):
    folder = root / "cifar-10-batches-py"
    out = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        X = images(n, 32, 32, seed=i)
        y = [(i * n + j) % 10 for j in range(n)]
        batch = {b"batch_label": f"batch {name}".encode(), b"labels": y, b"data": cifar_rows(X),
                 b"filenames": [f"img_{i}_{j}.png".encode() for j in range(n)]}  # fmt: skip
        dump(folder / name, batch, protocol=2 if i % 2 else 4)  # Python 2 era and current protocols
        out[name] = (X, y)
    dump(folder / "batches.meta", {b"label_names": [s.encode() for s in CIFAR10_NAMES],
                                   b"num_cases_per_batch": n, b"num_vis": 3072})  # fmt: skip
    return folder, out


def test_cifar10_python_batches(tmp_path, monkeypatch):
    folder, parts = write_cifar10(tmp_path)
    ds = load_dataset("cifar10", data_dir=tmp_path)
    train = [parts[f"data_batch_{k}"] for k in range(1, 6)]
    expect = np.concatenate([X for X, _ in train]).astype(np.float32) / 255
    assert ds.X.shape == (20, 3, 32, 32) and ds.X.dtype == np.float32
    assert 0 <= ds.X.min() and ds.X.max() == 1.0
    assert np.allclose(ds.X, expect) and np.all(ds.X[:, 2, 1, 30] == 1.0)
    assert ds.y.tolist() == [v for _, y in train for v in y]
    assert ds.class_names == CIFAR10_NAMES and ds.meta["split"] == "train"
    test = load_dataset("cifar-10", data_dir=folder, split="test")  # alias; the folder itself
    assert np.allclose(test.X, parts["test_batch"][0] / 255) and test.y.tolist() == parts["test_batch"][1]
    assert len(load_dataset("cifar10", data_dir=tmp_path, split="all")) == 24
    monkeypatch.setenv("GANCLUSTER_CIFAR10", str(tmp_path))
    assert len(load_dataset("cifar10", split="test")) == 4


def test_cifar2_frog_vs_airplane_by_number_and_name(tmp_path):
    write_cifar10(tmp_path, n=20)  # 100 training images, 10 per class
    by_number = load_dataset("cifar10", data_dir=tmp_path, classes=[6, 0], ratios=[0.7, 0.3])
    by_name = load_dataset("cifar10", data_dir=tmp_path, classes=["frog", "airplane"], ratios=[0.7, 0.3])
    assert by_number.class_names == by_name.class_names == ["frog", "airplane"]
    assert by_number.class_counts().tolist() == [10, 4]
    assert np.array_equal(by_number.X, by_name.X) and np.array_equal(by_number.y, by_name.y)
    resized = load_dataset("cifar10", data_dir=tmp_path, classes=[6, 0], image_size=16, n_samples=6)
    assert resized.X.shape == (6, 3, 16, 16) and resized.X.dtype == np.float32


def test_cifar100_fine_and_coarse_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    X = images(8, 32, 32, seed=5)
    fine, coarse = list(range(90, 98)), [f % 20 for f in range(90, 98)]
    dump(folder / "train", {b"filenames": [b"a"] * 8, b"batch_label": b"training batch 1 of 1", b"fine_labels": fine,
                            b"coarse_labels": coarse, b"data": cifar_rows(X)}, protocol=5)  # fmt: skip
    dump(folder / "test", {b"fine_labels": fine[:3], b"coarse_labels": coarse[:3], b"data": cifar_rows(X[:3])})
    dump(folder / "meta", {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
                           b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]})  # fmt: skip
    ds = load_dataset("cifar100", data_dir=tmp_path)
    assert ds.y.tolist() == fine and ds.class_names[97] == "fine97" and np.allclose(ds.X, X / 255)
    ds = load_dataset("cifar100", data_dir=tmp_path, label="coarse", split="test")
    assert ds.y.tolist() == coarse[:3] and len(ds.class_names) == 20
    with raises("label='colour'", "'fine' or 'coarse'"):
        load_dataset("cifar100", data_dir=tmp_path, label="colour")
    with raises("label='coarse'", "does not apply", "cifar100"):
        load_dataset("cifar10", data_dir=tmp_path, label="coarse")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_cifar_pickle_with_a_foreign_global_is_refused_without_running(tmp_path):
    folder, _ = write_cifar10(tmp_path)
    marker = tmp_path / "pwned"
    dump(folder / "data_batch_2", {b"data": _Evil(marker), b"labels": [0]})
    with raises("data_batch_2", "refusing to load", "system", "cifar-10-python.tar.gz"):
        load_dataset("cifar10", data_dir=tmp_path)
    assert not marker.exists()


def test_cifar_missing_partial_and_malformed(tmp_path):
    with raises("cifar-10 (train) not found", "no --data-dir given", "GANCLUSTER_CIFAR10", exc=DataNotFoundError):
        load_dataset("cifar10")
    with raises("not found", "cifar-10-batches-py/", "data_batch_1..data_batch_5", "test_batch", "batches.meta",
                "kriz/cifar.html", exc=DataNotFoundError):  # fmt: skip
        load_dataset("cifar10", data_dir=tmp_path / "nowhere")
    folder, _ = write_cifar10(tmp_path)
    (folder / "data_batch_3").unlink()
    with raises("incomplete cifar-10 folder", "data_batch_3", "cifar-10-python.tar.gz", exc=DataNotFoundError):
        load_dataset("cifar10", data_dir=tmp_path)
    assert len(load_dataset("cifar10", data_dir=tmp_path, split="test")) == 4  # the test split is whole
    dump(folder / "test_batch", {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})
    with raises("test_batch", "uint8 array (n, 3072)"):
        load_dataset("cifar10", data_dir=tmp_path, split="test")
    dump(folder / "test_batch", {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]})
    with raises("test_batch", "one integer label per image"):
        load_dataset("cifar10", data_dir=tmp_path, split="test")
    dump(folder / "test_batch", {b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]})
    with raises("outside 0..9"):
        load_dataset("cifar10", data_dir=tmp_path, split="test")
    (folder / "test_batch").write_bytes(b"\x80\x02truncated")
    with raises("test_batch", "cannot be unpickled"):
        load_dataset("cifar10", data_dir=tmp_path, split="test")
    with raises("split must be one of", "'train', 'test', 'all'"):
        load_dataset("cifar10", data_dir=tmp_path, split="unlabeled")


# --- STL-10 -------------------------------------------------------------------------------------


def official_stl_reader(path):
    """The official snippet: read uint8, reshape (-1, 3, 96, 96), transpose (0, 3, 2, 1) -> (n, h, w, c)."""
    x = np.fromfile(path, dtype=np.uint8)
    return np.transpose(np.reshape(x, (-1, 3, 96, 96)), (0, 3, 2, 1))


def write_stl10(root, sizes=(("train", 6), ("test", 4), ("unlabeled", 5))):
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    out = {}
    for i, (part, n) in enumerate(sizes):
        chw = images(n, 96, 96, seed=10 + i)
        hwc = chw.transpose(0, 2, 3, 1)
        # inverse of the official reader: (0, 3, 2, 1) is its own inverse
        np.ascontiguousarray(hwc.transpose(0, 3, 2, 1)).tofile(folder / f"{part}_X.bin")
        assert np.array_equal(official_stl_reader(folder / f"{part}_X.bin"), hwc)
        y = (np.arange(n) % 10 + 1).astype(np.uint8)  # 1..10 in the file
        if part != "unlabeled":
            y.tofile(folder / f"{part}_y.bin")
        out[part] = (chw, y)
    names = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
    (folder / "class_names.txt").write_text("\n".join(names) + "\n")
    return folder, out


def test_stl10_binary_layout_splits_and_resize(tmp_path):
    folder, parts = write_stl10(tmp_path)
    ds = load_dataset("stl10", data_dir=tmp_path)
    chw, y = parts["train"]
    assert ds.X.shape == (6, 3, 96, 96) and ds.X.dtype == np.float32
    assert np.allclose(ds.X, chw / 255) and np.all(ds.X[:, 2, 1, 94] == 1.0)  # the marker at (c, h, w)
    assert ds.y.tolist() == (y - 1).tolist() and ds.class_names[7] == "monkey"
    unl = load_dataset("stl-10", data_dir=folder, split="unlabeled")
    assert unl.y is None and np.allclose(unl.X, parts["unlabeled"][0] / 255)
    both = load_dataset("stl10", data_dir=tmp_path, split="train+unlabeled", image_size=48)
    assert both.y is None and both.X.shape == (11, 3, 48, 48)
    assert np.allclose(both.X[6:], load_dataset("stl10", data_dir=tmp_path, split="unlabeled", image_size=48).X)
    labelled = load_dataset("stl10", data_dir=tmp_path, split="all", n_samples=5, seed=1)
    assert labelled.X.shape == (5, 3, 96, 96) and labelled.y is not None
    # every sample is the image its index points at, across the train/test boundary
    full = np.concatenate([parts["train"][0], parts["test"][0]]) / 255
    assert np.allclose(labelled.X, full[labelled.meta["index"]])
    with raises("needs class labels", "stl10"):
        load_dataset("stl10", data_dir=tmp_path, split="unlabeled", classes=[0, 1])


def test_stl10_truncated_and_partial(tmp_path):
    folder, _ = write_stl10(tmp_path)
    with open(folder / "test_X.bin", "ab") as f:
        f.write(b"\0" * 100)
    with raises("test_X.bin", "not a positive multiple of 3*96*96", "truncated", "stl10_binary.tar.gz"):
        load_dataset("stl10", data_dir=tmp_path, split="test")
    (folder / "train_y.bin").write_bytes(b"\x01\x02")
    with raises("train_y.bin", "2 labels", "6 images"):
        load_dataset("stl10", data_dir=tmp_path)
    (folder / "train_y.bin").unlink()
    with raises("incomplete stl-10 folder", "train_y.bin", "cs.stanford.edu/~acoates/stl10", exc=DataNotFoundError):
        load_dataset("stl10", data_dir=tmp_path)
    assert len(load_dataset("stl10", data_dir=tmp_path, split="train+unlabeled")) == 11  # needs no labels


# --- SVHN ---------------------------------------------------------------------------------------


def write_svhn(folder, part, n, seed):
    chw = images(n, 32, 32, seed)
    y = (np.arange(n) % 10 + 1).astype(np.uint8).reshape(n, 1)  # 10 is the digit 0
    folder.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(folder / f"{part}_32x32.mat", {"X": chw.transpose(2, 3, 1, 0), "y": y})  # (h, w, c, n)
    return chw, y


def test_svhn_mat_files(tmp_path):
    chw, y = write_svhn(tmp_path / "svhn", "train", 12, seed=20)
    write_svhn(tmp_path / "svhn", "test", 3, seed=21)
    write_svhn(tmp_path / "svhn", "extra", 4, seed=22)
    ds = load_dataset("svhn", data_dir=tmp_path)
    assert ds.X.shape == (12, 3, 32, 32) and np.allclose(ds.X, chw / 255) and np.all(ds.X[:, 2, 1, 30] == 1.0)
    assert ds.y.tolist() == (y.ravel() % 10).tolist() and 0 in ds.y and ds.class_names[0] == "0"
    assert len(load_dataset("svhn", data_dir=tmp_path, split="train+extra")) == 16
    assert len(load_dataset("svhn", data_dir=tmp_path / "svhn", split="all")) == 15
    scipy.io.savemat(tmp_path / "svhn" / "test_32x32.mat", {"X": chw.transpose(2, 3, 1, 0)})
    with raises("test_32x32.mat", "no variable y"):
        load_dataset("svhn", data_dir=tmp_path, split="test")
    (tmp_path / "svhn" / "test_32x32.mat").write_bytes(b"not a mat file at all")
    with raises("test_32x32.mat", "matlab v5", "ufldl.stanford.edu/housenumbers"):
        load_dataset("svhn", data_dir=tmp_path, split="test")
    (tmp_path / "svhn" / "extra_32x32.mat").unlink()
    with raises("incomplete svhn folder", "extra_32x32.mat", exc=DataNotFoundError):
        load_dataset("svhn", data_dir=tmp_path, split="extra")


# --- CelebA -------------------------------------------------------------------------------------


def face(k: int) -> np.ndarray:
    """A 218x178 (h x w) image: blue outside the central 140x140 box, green inside, a red 12x12 corner
    block at the box's top-left, and k-dependent brightness so images differ."""
    img = np.zeros((218, 178, 3), np.uint8)
    img[..., 2] = 255
    img[39:179, 19:159] = (0, 200 + k, 0)
    img[39:51, 19:31] = (255, 0, 0)
    return img


def write_celeba(root, n=12, black=(0, 3, 5), official_layout=False):
    img_dir = root / ("Img/img_align_celeba" if official_layout else "img_align_celeba")
    img_dir.mkdir(parents=True)
    files = [f"{i + 1:06d}.jpg" for i in range(n)]
    for k, f in enumerate(files):
        Image.fromarray(face(k)).save(img_dir / f, quality=95, subsampling=0)  # no chroma blur at the box edge
    lines = [str(n), " ".join(CELEBA_ATTRS) + " "]
    col = CELEBA_ATTRS.index("Black_Hair")
    for k, f in enumerate(files):
        values = [1 if (j == col and k in black) or (j == 0 and k % 2) else -1 for j in range(40)]
        lines.append(f + " " + " ".join(f"{v:2d}" for v in values))
    anno = root / "Anno" if official_layout else root
    anno.mkdir(exist_ok=True)
    (anno / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    ev = root / "Eval" if official_layout else root
    ev.mkdir(exist_ok=True)
    parts = [0] * (n - 4) + [1, 1, 2, 2]
    (ev / "list_eval_partition.txt").write_text("".join(f"{f} {p}\n" for f, p in zip(files, parts)))
    return img_dir, files


def test_celeba_attribute_split_crop_and_resize(tmp_path):
    write_celeba(tmp_path)
    ds = load_dataset("celeba", data_dir=tmp_path, label="Black_Hair", split="all", image_size=140)
    assert ds.X.shape == (12, 3, 140, 140) and ds.X.dtype == np.float32  # the 140x140 centre crop
    assert ds.y.tolist() == [1 if k in (0, 3, 5) else 0 for k in range(12)]
    assert ds.class_names == ["not Black_Hair", "Black_Hair"]
    assert ds.X[:, 2].max() < 0.1  # not one row or column of the blue border crept in: the offset is exact
    assert ds.X[:, 1, 20:, 20:].min() > 0.7  # green inside, away from the red corner
    assert ds.X[:, 0, 2:10, 2:10].min() > 0.8 and ds.X[:, 1, 2:10, 2:10].max() < 0.2  # red corner top-left
    small = load_dataset("celeba", data_dir=tmp_path, label="Black_Hair")  # train split, default 64x64
    assert small.X.shape == (8, 3, 64, 64) and small.meta["files"][0] == "000001.jpg"
    assert small.X[:, 0, 1:4, 1:4].min() > 0.8  # the corner survives the resize in place
    whole = load_dataset("celeba", data_dir=tmp_path, split="test", crop=0, image_size=(218, 178))
    assert whole.y is None and whole.X.shape == (2, 3, 218, 178) and whole.X[:, 2, 0, 0].min() > 0.9
    two = load_dataset("celeba", data_dir=tmp_path, label="Black_Hair", split="all",
                       classes=["Black_Hair", "not Black_Hair"], ratios=[0.25, 0.75], image_size=32)  # fmt: skip
    assert two.class_counts().tolist() == [3, 9] and two.class_names[0] == "Black_Hair"


def test_celeba_decodes_only_the_kept_images(tmp_path, monkeypatch):
    import gancluster.data.celeba as celeba

    img_dir, files = write_celeba(tmp_path, official_layout=True)
    (img_dir / files[-1]).write_bytes(b"corrupt")  # never decoded unless chosen
    read = []
    real = celeba.read_image
    monkeypatch.setattr(celeba, "read_image", lambda path: read.append(path.name) or real(path))
    ds = load_dataset("celeba", data_dir=tmp_path, split="train", n_samples=3, image_size=32, seed=2)
    assert len(ds) == 3 and sorted(read) == sorted(ds.meta["files"])


def test_celeba_bad_folders(tmp_path):
    img_dir, files = write_celeba(tmp_path)
    attr = tmp_path / "list_attr_celeba.txt"
    with raises("no attribute 'black_hairs'", "Black_Hair", "Young"):
        load_dataset("celeba", data_dir=tmp_path, label="Black_Hairs")
    (img_dir / files[2]).unlink()
    with raises("missing from", "000003.jpg", "img_align_celeba.zip", exc=DataNotFoundError):
        load_dataset("celeba", data_dir=tmp_path, split="all")
    lines = attr.read_text().splitlines()
    attr.write_text("\n".join(lines[:4] + [lines[4].rsplit(" ", 1)[0]] + lines[5:]) + "\n")
    with raises("list_attr_celeba.txt", "line 5 has 40 columns, expected 41"):
        load_dataset("celeba", data_dir=tmp_path, split="all")
    attr.write_text("\n".join(lines[:-2]) + "\n")
    with raises("says 12 images but 10 rows"):
        load_dataset("celeba", data_dir=tmp_path, split="all")
    attr.write_text("\n".join(lines[:3] + [lines[3].replace("-1", " 0")] + lines[4:]) + "\n")
    with raises("line 4", "expected 1 or -1"):
        load_dataset("celeba", data_dir=tmp_path, label="Black_Hair", split="all")
    attr.write_text("\n".join(lines) + "\n")
    (tmp_path / "list_eval_partition.txt").unlink()
    with raises("incomplete celeba folder", "list_eval_partition.txt", "split='all'", exc=DataNotFoundError):
        load_dataset("celeba", data_dir=tmp_path, label="Black_Hair")
    with raises("celeba (train) not found", "img_align_celeba/", "mmlab.ie.cuhk.edu.hk", exc=DataNotFoundError):
        load_dataset("celeba", data_dir=tmp_path / "nothing")


# --- image folders, crops, registry -------------------------------------------------------------


def test_image_folder_rgb_crop_and_resize(tmp_path):
    root = tmp_path / "photos"
    for cls, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        (root / cls).mkdir(parents=True)
        for i, (w, h) in enumerate(((40, 30), (50, 36))):  # different sizes: the crop evens them
            arr = np.zeros((h, w, 3), np.uint8)
            arr[h // 2 - 10 : h // 2 + 10, w // 2 - 10 : w // 2 + 10] = colour  # a 20x20 centre patch
            Image.fromarray(arr).save(root / cls / f"{i}.png")
    ds = load_dataset(root, crop=20)
    assert ds.X.shape == (4, 3, 20, 20) and ds.class_names == ["blue", "red"]
    assert np.all(ds.X[ds.y == 1, 0] == 1.0) and np.all(ds.X[ds.y == 0, 2] == 1.0)
    assert load_image_folder(root, crop=(20, 20), image_size=(8, 12)).X.shape == (4, 3, 8, 12)
    assert load_dataset(root, image_size=16, n_samples=2).X.shape == (2, 3, 16, 16)
    with raises("crop 31x31", "larger than", "30x40"):
        load_dataset(root, crop=31)
    with raises("differ in size", "image_size"):
        load_dataset(root)
    (root / "red" / "2.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with raises("2.jpg", "remove or replace"):
        load_dataset(root, crop=20)


def test_crop_for_array_datasets_and_its_errors():
    ds = load_dataset("digits", crop=6, n_samples=10)
    full = load_dataset("digits", n_samples=10)
    assert ds.X.shape == (10, 1, 6, 6) and np.array_equal(ds.X, full.X[:, :, 1:7, 1:7])
    with raises("crop", "positive"):
        load_dataset("digits", crop=-3)
    with raises("crop", "points"):
        load_dataset("ring", crop=4)
    with raises("label=", "does not apply", "celeba"):
        load_dataset("digits", label="Black_Hair")


def test_registry_and_cli_listing(capsys):
    for name in ("cifar10", "cifar100", "stl10", "svhn", "celeba"):
        assert name in DATASETS and DATASETS[name].kind == "images"
    assert "train+unlabeled" in DATASETS["stl10"].splits and "valid" in DATASETS["celeba"].splits
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for words in ("cifar10", "kriz/cifar.html", "stl10_binary", "train+unlabeled", "Black_Hair", "GANCLUSTER_SVHN"):
        assert words in out


def test_cli_train_without_the_data_is_one_clear_line(tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "cifar10", "--data-dir", str(tmp_path / "missing"), "--run-dir", str(run),
                 "--classes", "frog,airplane", "--max-steps", "1"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "Traceback" not in err
    for words in ("cifar-10-batches-py/", "data_batch_1", "batches.meta", "--data-dir"):
        assert words in err
    assert not run.exists()


# --- packaged experiment configs ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["cifar2-70", "cifar2-90", "celeba-blackhair", "cifar10-pgmgan", "stl10-pgmgan"])
def test_packaged_config_parses_and_asks_for_its_data(name, tmp_path, capsys):
    cfg = load_config_file(packaged_configs()[name])
    assert set(cfg) == {"method", "data", "params"}
    spec = from_dict(DataSpec, cfg["data"], where="data")
    build_estimator(cfg["method"], cfg["params"])  # every parameter is known and valid
    assert spec.source in DATASETS
    run = tmp_path / "run"
    code = main(["train", "--config", name, "--data-dir", str(tmp_path / "missing"), "--run-dir", str(run)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "not found" in err and "--data-dir" in err
    assert not run.exists()


def test_cifar2_config_selects_frogs_and_airplanes(tmp_path):
    write_cifar10(tmp_path, n=20)
    spec = from_dict(DataSpec, {**load_config_file(packaged_configs()["cifar2-90"])["data"], "data_dir": str(tmp_path)})
    ds: Dataset = spec.load(spec.split)
    assert ds.class_names == ["frog", "airplane"] and ds.class_counts().tolist() == [10, 1]
    from gancluster.cli import _config_file

    with raises("config file nope", "cifar2-70"):
        _config_file("nope")
