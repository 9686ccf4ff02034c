"""The command line: end-to-end runs on tiny data, and bad arguments that exit 2 cleanly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gancluster.cli import main


@pytest.fixture(scope="module")
def points_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 5.0], [5.0, 0.0], [-5.0, -5.0]])
    y = rng.integers(0, 3, 300)
    X = centres[y] + 0.3 * rng.standard_normal((300, 2))
    path = tmp_path_factory.mktemp("data") / "points.csv"
    lines = ["x,y,label"] + [f"{a:.5f},{b:.5f},{c}" for (a, b), c in zip(X, y)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def trained_run(points_csv, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "blobs"
    code = main(["train", str(points_csv), "-k", "3", "--max-steps", "300", "--seed", "0", "--run-dir", str(run),
                 "--set", "latent_dim=4", "--set", "verbose=0", "--set", "warmup_steps=100"])
    assert code == 0
    return run


def test_train_writes_a_complete_run_folder(trained_run) -> None:
    for name in ("config.json", "model.safetensors", "checkpoint.safetensors", "metrics.jsonl", "metrics.json",
                 "samples.png", "confusion.png", "curves.png"):
        assert (trained_run / name).is_file(), name
    config = json.loads((trained_run / "config.json").read_text())
    assert config["method"] == "clustergan"
    assert config["params"]["n_clusters"] == 3
    assert config["provenance"]["torch"]
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["scores"]["acc"] > 0.9  # three far-apart blobs
    assert metrics["baseline"]["name"] == "kmeans"


def test_predict_and_sample(trained_run, points_csv, tmp_path, capsys) -> None:
    out = tmp_path / "labels.csv"
    assert main(["predict", str(trained_run), str(points_csv), "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "cluster" and len(lines) == 301
    assert {int(v) for v in lines[1:]} <= {0, 1, 2}
    npz = tmp_path / "s.npz"
    assert main(["sample", str(trained_run), "-n", "20", "--cluster", "1", "--out", str(npz)]) == 0
    with np.load(npz, allow_pickle=False) as f:
        assert f["X"].shape == (20, 2) and (f["cluster"] == 1).all()
    png = tmp_path / "s.png"
    assert main(["sample", str(trained_run), "-n", "30", "--out", str(png)]) == 0
    assert png.stat().st_size > 0


def test_evaluate_rewrites_metrics(trained_run) -> None:
    (trained_run / "metrics.json").unlink()
    assert main(["evaluate", str(trained_run)]) == 0
    assert json.loads((trained_run / "metrics.json").read_text())["scores"]["acc"] > 0.9


def test_resume_a_finished_run_adds_steps(trained_run, points_csv) -> None:
    code = main(["train", str(points_csv), "-k", "3", "--max-steps", "320", "--seed", "0", "--run-dir",
                 str(trained_run), "--resume", "--set", "latent_dim=4", "--set", "verbose=0",
                 "--set", "warmup_steps=100"])
    assert code == 0
    assert json.loads((trained_run / "metrics.json").read_text())["train_steps"] == 320


@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "no-such-dataset"], "unknown dataset"),
        (["train", "digits", "--set", "betan=3"], "unknown parameter"),
        (["train", "digits", "--set", "beta_n"], "name=value"),
        (["train", "digits", "-k", "1"], "n_clusters must be >= 2"),
        (["train", "digits", "--priors", "0.5,0.6"], "priors"),
        (["train", "digits", "--method", "vae"], "unknown method"),
        (["train", "digits", "--classes", "3,x"], "class 'x' is unknown"),
        (["train", "digits", "--max-steps", "ten"], "invalid int"),
        (["train"], "give DATA"),
        (["predict", "/no/such/model", "digits"], "does not exist"),
        (["evaluate", "/no/such/run"], "not a folder"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(argv, words, tmp_path, capsys) -> None:
    run_dir = tmp_path / "run"
    if argv[0] == "train":
        argv = argv + ["--run-dir", str(run_dir)]
    with pytest.raises(SystemExit) as info:
        raise SystemExit(main(argv))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert words.lower() in err.lower()
    assert "Traceback" not in err
    assert not run_dir.exists(), "a refused run must leave nothing behind"


def test_train_refuses_to_overwrite_a_run(trained_run, points_csv, capsys) -> None:
    before = (trained_run / "model.safetensors").read_bytes()
    assert main(["train", str(points_csv), "-k", "3", "--run-dir", str(trained_run)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (trained_run / "model.safetensors").read_bytes() == before


def test_help_of_every_command(capsys) -> None:
    for cmd in ("train", "evaluate", "predict", "sample", "demo", "datasets", "reproduce"):
        with pytest.raises(SystemExit) as info:
            main([cmd, "--help"])
        assert info.value.code == 0
        assert "usage: gancluster " + cmd in capsys.readouterr().out


def test_datasets_lists_builtins(capsys) -> None:
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("digits", "mnist", "fashion-mnist", "ring", "grid", "moons"):
        assert name in out


def test_reproduce_lists_every_paper_table_and_refuses_unknown_ones(capsys) -> None:
    assert main(["reproduce", "--list"]) == 0
    listed = capsys.readouterr().out
    for table in ("clustergan-mnist", "clustergan-fashion", "nemgan-table1", "pgmgan-toy", "pgmgan-stacked-mnist"):
        assert table in listed
    assert main(["reproduce", "no-such-table"]) == 2
    assert "unknown table" in capsys.readouterr().err
