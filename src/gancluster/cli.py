"""The ``gancluster`` command: a thin door into :mod:`gancluster.runs` and the estimators.

Every user-fixable problem ends in one line on stderr and exit code 2; method settings go through
``--set name=value`` (or a config file) rather than one flag each, so the CLI stays small while
every estimator parameter stays reachable.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import GanclusterError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments as one line and exit code 2 (as argparse does), plus help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ---- argument helpers ---------------------------------------------------------------------------


def _float_list(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _labels(text: str) -> list[int | str]:
    """``3,5`` -> [3, 5]; ``frog,airplane`` -> class names (integers stay integers)."""
    out: list[int | str] = []
    for v in (v.strip() for v in text.split(",")):
        if v:
            out.append(int(v) if v.lstrip("-").isdigit() else v)
    return out


def _groups(text: str) -> list[list[int]] | str:
    """``3,5,8;2;1,4,7,9`` -> [[3,5,8],[2],[1,4,7,9]]; a bare word names a grouping (``mnist5``)."""
    if not any(ch.isdigit() for ch in text):
        return text
    return [_int_list(part) for part in text.split(";") if part.strip()]


def _parse_value(text: str) -> Any:
    """``--set`` values are YAML scalars/lists: 10, 0.5, true, null, [1, 2], wgan-gp."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _settings(pairs: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise GanclusterError(f"--set expects name=value, got {pair!r} (e.g. --set beta_n=10)")
        key, value = pair.split("=", 1)
        out[key.strip()] = _parse_value(value)
    return out


def _add_data_options(p: argparse.ArgumentParser, with_split: bool = True) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data-dir", help="folder holding the dataset files (MNIST, CIFAR-10, STL-10, CelebA, ...)")
    if with_split:
        g.add_argument("--split", default=None,
                       help="split to train on: train (default), test, all, or the dataset's own (e.g. train+unlabeled)")
        g.add_argument("--eval-split", default=None, help="split to evaluate on (default test; 'none' = training data)")
    g.add_argument("--classes", type=_labels, help="keep these classes (labels or names), e.g. 3,5 or frog,airplane")
    g.add_argument("--groups", type=_groups, help="merge classes: '3,5,8;2;1,4,7,9;6;0' or a name (mnist5, fmnist5)")
    g.add_argument("--ratios", type=_float_list, help="class shares after subsetting, e.g. 0.9,0.1")
    g.add_argument("--n-samples", type=int, help="random subsample of this size")
    g.add_argument("--label-column", help="CSV column holding labels (name or index)")
    g.add_argument("--image-size", type=int, help="resize images to this size (e.g. 48 for STL-10)")
    g.add_argument("--crop", type=int, help="centre-crop images to this size before resizing (0 = none; CelebA: 140)")
    g.add_argument("--label", help="which labels: cifar100 fine|coarse, or a CelebA attribute (e.g. Black_Hair)")


def _data_spec(args: argparse.Namespace, base: dict[str, Any] | None = None):
    from .config import from_dict
    from .runs import DataSpec

    spec = dict(base or {})
    if getattr(args, "data", None):
        spec["source"] = args.data
    for key in ("data_dir", "split", "classes", "groups", "ratios", "n_samples", "label_column", "image_size",
                "crop", "label", "mmap"):
        value = getattr(args, key, None)
        if value is not None:
            spec[key] = value
    eval_split = getattr(args, "eval_split", None)
    if eval_split is not None:
        spec["eval_split"] = None if eval_split.lower() == "none" else eval_split
    if getattr(args, "seed", None) is not None:
        spec["seed"] = args.seed
    return from_dict(DataSpec, spec, where="data")


def _config_file(spec: str) -> Path:
    """A config path, or the name of a packaged experiment config (``cifar2-70``)."""
    from .experiments import config_path, packaged_configs

    path = config_path(spec)
    if path is None:
        raise GanclusterError(
            f"config file {spec} does not exist; give a YAML/JSON file or a packaged config: "
            f"{', '.join(packaged_configs())}"
        )
    return path


# ---- commands -----------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from .config import load_config_file
    from .distributed import launched_by_torchrun, shutdown
    from .runs import train_run

    file_cfg = load_config_file(_config_file(args.config)) if args.config else {}
    unknown = sorted(set(file_cfg) - {"method", "data", "params"})
    if unknown:
        raise GanclusterError(f"{args.config}: unknown key(s) {unknown}; a config holds method, data and params")
    method = args.method or file_cfg.get("method") or "clustergan"
    params: dict[str, Any] = dict(file_cfg.get("params") or {})
    params.update(_settings(args.set or []))
    for flag, key in (("clusters", "n_clusters"), ("priors", "priors"), ("max_steps", "max_steps"),
                      ("max_seconds", "max_seconds"), ("device", "device"), ("seed", "random_state"),
                      ("amp", "amp")):
        if getattr(args, flag) is not None:
            params[key] = getattr(args, flag)
    if args.deterministic:
        params["deterministic"] = True
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    params.setdefault("verbose", 1)
    data = _data_spec(args, file_cfg.get("data"))
    if args.run_dir is None and (args.distributed or launched_by_torchrun()):
        raise GanclusterError("a multi-process run needs --run-dir (every rank must name the same folder)")
    run_dir = Path(args.run_dir or f"runs/{method}-{Path(data.source).stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    metrics = train_run(run_dir, method, data, params, resume=args.resume, distributed_run=args.distributed)
    shutdown()  # a rank that failed exits instead, and torchrun stops the others
    if metrics:  # empty on ranks other than 0 of a multi-process run
        _print_metrics(metrics)
        print(f"run folder: {run_dir}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .runs import evaluate_run

    run_dir = Path(args.run)
    if not run_dir.is_dir():
        raise GanclusterError(f"{run_dir} is not a folder; give the run folder that `gancluster train` wrote")
    metrics = evaluate_run(run_dir)
    _print_metrics(metrics)
    print(f"wrote {run_dir / 'metrics.json'}")
    return 0


def _load_model(path: str, device: str):
    from . import load
    from .runs import MODEL_FILE

    p = Path(path)
    return load(p / MODEL_FILE if p.is_dir() else p, device=device)


def cmd_predict(args: argparse.Namespace) -> int:
    from .checkpoint import atomic_write_bytes

    model = _load_model(args.model, args.device)
    data = _data_spec(args).load("all" if args.split is None else args.split)
    out = io.StringIO()
    if args.proba:
        proba = model.predict_proba(data.X)
        out.write("cluster," + ",".join(f"p{k}" for k in range(proba.shape[1])) + "\n")
        for row in proba:
            out.write(f"{int(row.argmax())}," + ",".join(f"{v:.6f}" for v in row) + "\n")
    else:
        out.write("cluster\n")
        out.write("".join(f"{int(v)}\n" for v in model.predict(data.X)))
    if args.out:
        atomic_write_bytes(Path(args.out), out.getvalue().encode())
        print(f"wrote cluster labels of {len(data.X)} samples to {args.out}")
    else:
        sys.stdout.write(out.getvalue())
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from .checkpoint import atomic_write_bytes
    from . import report

    model = _load_model(args.model, args.device)
    X, k = model.sample(args.n, cluster=args.cluster, random_state=args.seed)
    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix == ".npz":
        buf = io.BytesIO()
        np.savez(buf, X=X, cluster=k)
        atomic_write_bytes(out, buf.getvalue())
    elif suffix == ".npy":
        buf = io.BytesIO()
        np.save(buf, X)
        atomic_write_bytes(out, buf.getvalue())
    elif suffix == ".csv":
        flat = X.reshape(len(X), -1)
        lines = ["cluster," + ",".join(f"x{i}" for i in range(flat.shape[1]))]
        lines += [f"{int(c)}," + ",".join(f"{v:.6g}" for v in row) for c, row in zip(k, flat)]
        atomic_write_bytes(out, ("\n".join(lines) + "\n").encode())
    elif suffix == ".png":
        order = np.argsort(k, kind="stable")
        report.save_samples_figure(X[order], k[order], out)
    else:
        raise GanclusterError(f"--out {out}: unknown format {suffix or '(none)'}; use .npz, .npy, .csv or .png")
    print(f"wrote {len(X)} samples to {out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .runs import DataSpec, train_run

    run_dir = Path(args.run_dir or f"runs/demo-{time.strftime('%Y%m%d-%H%M%S')}")
    # the best recipe as it is: its encoder warm-up takes at most half of the budget, the GAN the rest
    params = {"n_clusters": 10, "max_steps": 10**9, "max_seconds": args.seconds, "random_state": args.seed,
              "verbose": 1}
    print(f"gancluster demo: ClusterGAN on sklearn's digits (1,797 8x8 images, 10 classes), "
          f"{args.seconds:g} s of training on this machine")
    metrics = train_run(run_dir, "clustergan", DataSpec(source="digits", split="all", eval_split=None), params)
    _print_metrics(metrics)
    print(f"run folder: {run_dir} (samples.png: one row per cluster; metrics.json)")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .checkpoint import atomic_write_text
    from .reproduce import describe, reproduce

    if args.list or not args.table:
        for name, description in describe():
            print(f"{name:22s} {description}")
        return 0 if args.list else EXIT_USAGE
    markdown = reproduce(args.table, budget=args.budget, seeds=args.seeds)
    out = Path(args.out or f"reproduce-{args.table}-{args.budget}.md")
    atomic_write_text(out, markdown)
    print(markdown)
    print(f"wrote {out}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from .data import DATASETS

    for name, info in DATASETS.items():
        print(f"{name:16s} {info.description}")
        if info.source != "generated (seeded)":
            print(f"{'':16s}   get it: {info.source}")
        if info.splits != ("train", "test", "all") or info.labels:
            label = f"; --label: {info.labels}" if info.labels else ""
            print(f"{'':16s}   splits: {', '.join(info.splits)}{label}")
    print("or a path: .npy, .npz, .csv/.tsv, or a folder of images (one subfolder per class for labels)")
    return 0


def _print_metrics(m: dict[str, Any]) -> None:
    scores = m.get("scores")
    if scores:
        base = m.get("baseline", {})
        print(f"\n{'':22s}{'ACC':>8s}{'NMI':>8s}{'ARI':>8s}   (ACC: Hungarian; NMI: arithmetic mean)")
        print(f"{m['method']:22s}{scores['acc']:8.4f}{scores['nmi']:8.4f}{scores['ari']:8.4f}"
              f"   {m['train_seconds']:.0f} s, {m['train_steps']} steps, {m['n_eval']} samples")
        if base:
            print(f"{base['name'] + ' (same data)':22s}{base['acc']:8.4f}{base['nmi']:8.4f}{base['ari']:8.4f}"
                  f"   {base['seconds']:.0f} s")
    print(f"generated shares per cluster (by the inverter): {m['generated_shares']}  "
          f"TV to priors {m['generated_tv_to_priors']}")


# ---- parser -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = _Parser(prog="gancluster", description="Cluster data with GANs and generate data per cluster.")
    parser.add_argument("--version", action="version", version=f"gancluster {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("train", help="train a model into a run folder, then evaluate it",
                       description="Train a GAN clusterer on DATA (a dataset name or a file/folder; "
                                   "see `gancluster datasets`). Method settings: --set name=value.")
    p.add_argument("data", nargs="?", help="dataset name (digits, mnist, fashion-mnist, ring, ...) or a path")
    p.add_argument("--method", help="clustergan (default), nemgan, gmgan, pgmgan")
    p.add_argument("-k", "--clusters", type=int, help="number of clusters")
    p.add_argument("--priors", type=_float_list, help="cluster priors, e.g. 0.9,0.1 (default uniform)")
    p.add_argument("--config", help="YAML/JSON file with method, data and params, or a packaged one by name "
                                    "(cifar2-70, cifar2-90, celeba-blackhair, cifar10-pgmgan, stl10-pgmgan)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="estimator parameter, repeatable")
    p.add_argument("--run-dir", help="output folder (default runs/<method>-<data>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its checkpoint")
    p.add_argument("--max-steps", type=int, help="generator steps budget")
    p.add_argument("--max-seconds", type=float, help="wall-time budget in seconds")
    p.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, help="random seed of the model and the data subsampling")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel training over the processes torchrun started (also automatic under torchrun); "
                        "the global batch is nproc x batch_size")
    p.add_argument("--amp", choices=("off", "bf16", "auto"),
                   help="bf16 mixed precision (CUDA, or CPUs with AMX / AVX512-BF16); "
                        "auto: bf16 where the device computes it natively (default off)")
    p.add_argument("--deterministic", action="store_true", help="deterministic algorithms (recorded in provenance)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    _add_data_options(p)
    p.add_argument("--mmap", action="store_true", default=None,
                   help="stream a .npy file from disk batch by batch instead of loading it (automatic above 2 GiB)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="recompute metrics.json and the pictures of a run folder")
    p.add_argument("run", help="run folder written by `gancluster train`")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="cluster labels for a data file with a trained model")
    p.add_argument("model", help="run folder or model .safetensors file")
    p.add_argument("data", help="dataset name or path")
    p.add_argument("--out", help="CSV file to write (default: standard output)")
    p.add_argument("--proba", action="store_true", help="also write cluster probabilities")
    p.add_argument("--split", help="dataset split (default all)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    _add_data_options(p, with_split=False)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("sample", help="generate samples, optionally from one cluster")
    p.add_argument("model", help="run folder or model .safetensors file")
    p.add_argument("-n", type=int, default=100, help="number of samples (default 100)")
    p.add_argument("--cluster", type=int, help="generate only from this cluster")
    p.add_argument("--out", required=True, help="output file: .png (grid), .npz, .npy or .csv")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("demo", help="a two-minute run on sklearn's digits (no download)")
    p.add_argument("--run-dir", help="output folder (default runs/demo-<time>)")
    p.add_argument("--seconds", type=float, default=90.0, help="training time (default 90)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("reproduce", help="rerun a paper table and print paper vs ours",
                       description="Run the experiments behind a paper table and write paper vs ours as Markdown.")
    p.add_argument("table", nargs="?", help="table name (see --list)")
    p.add_argument("--budget", default="quick", choices=("quick", "paper"),
                   help="quick: minutes on a CPU, one seed; paper: BENCHMARKS.md budgets, three seeds")
    p.add_argument("--seeds", type=int, nargs="+", help="override the budget's seeds")
    p.add_argument("--out", help="Markdown file to write (default reproduce-<table>-<budget>.md)")
    p.add_argument("--list", action="store_true", help="list the tables")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("datasets", help="list the built-in datasets")
    p.set_defaults(func=cmd_datasets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "train" and not args.data and not args.config:
        parser.exit(EXIT_USAGE, "gancluster train: error: give DATA (a dataset name or path) or --config\n")
    try:
        return int(args.func(args) or 0)
    except GanclusterError as exc:
        print(f"gancluster {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted; the last checkpoint is kept (continue with --resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
