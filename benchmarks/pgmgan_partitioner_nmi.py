"""PGMGAN's partitioner as a clustering method (paper Table 5): NMI / ACC on MNIST with k = 10.

The partitioner alone (a 1-step PGMGAN fit: SimCLR pretext on a subset, k-NN graph of its
embeddings, eq. 5, optional self-labelling), evaluated on the MNIST training set and the test set.

    python benchmarks/pgmgan_partitioner_nmi.py [--seeds 0 1 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, command, machine, mean_std, parse_overrides, write_section  # noqa: E402

from gancluster.data import load_dataset  # noqa: E402
from gancluster.metrics import evaluate_clustering  # noqa: E402
from gancluster.pgmgan import PGMGAN  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "pgmgan_partitioner_nmi.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--set", nargs="*", default=[], help="extra PGMGAN params as key=value (YAML scalars)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="fewer pretext / eq. 5 steps")
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    params = dict(n_clusters=10, device="cpu", max_steps=1, partition_subset=20_000, pretext_steps=400,
                  scan_steps=1500, self_label_steps=300)
    if args.quick:
        params.update(pretext_steps=100, scan_steps=300, self_label_steps=0, partition_subset=5000)
    params.update(parse_overrides(args.set))
    train, test = load_dataset("mnist", split="train"), load_dataset("mnist", split="test")
    t0 = time.time()
    runs = []
    for seed in args.seeds:
        est = PGMGAN(random_state=seed, **params).fit(train.X)
        rec = {"seed": seed, "partitioner_seconds": float(est.method_.partitioner_seconds),
               "train": evaluate_clustering(train.y, est.labels_), "test": evaluate_clustering(test.y, est.predict(test.X))}
        runs.append(rec)
        print(json.dumps(rec), flush=True)
    wall = time.time() - t0
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"command": command(), "params": params, "runs": runs}, indent=1))
    lines = [
        "## PGMGAN partitioner as a clustering method: MNIST, k = 10 (issue 5, paper Table 5)",
        "",
        f"`{command()}` — seeds {args.seeds}, params {params}; wall {wall / 60:.1f} min on {machine()}. {args.note}",
        "",
        "NMI: sklearn's arithmetic mean; ACC: Hungarian matching. Partitioner trained on a subset of the 60k "
        "training images, labels = its argmax.",
        "",
        "| split | NMI | ACC | ARI |",
        "|---|---|---|---|",
    ]
    for split in ("train", "test"):
        lines.append(f"| {split} | {mean_std([r[split]['nmi'] for r in runs])} | {mean_std([r[split]['acc'] for r in runs])} | "
                     f"{mean_std([r[split]['ari'] for r in runs])} |")
    lines.append(f"\nPartitioner training: {mean_std([r['partitioner_seconds'] for r in runs], 0)} s.")
    write_section("pgmgan-partitioner-nmi", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
