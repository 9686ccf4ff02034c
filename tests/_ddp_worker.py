"""Helper of ``test_distributed``: one rank of a 2-process gloo run, launched by ``torch.distributed.run``.

Every rank trains ClusterGAN on sklearn's digits into the same run folder (then resumes it for a
few more steps), and a short NEMGAN; it reports a SHA-256 of each final state dict, the clustering
ACC and how many files it wrote, in ``<out>/rank<r>.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

import gancluster.train as train_module
from gancluster import NEMGAN, ClusterGAN
from gancluster.metrics import evaluate_clustering

STEPS, WARMUP, MORE = 260, 240, 20


def state_sha256(model) -> str:
    digest = hashlib.sha256()
    for name, t in sorted(model.method_.state_dict().items()):
        digest.update(name.encode())
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def count_writes() -> dict[str, int]:
    """Count the Trainer's writes (checkpoints and log lines) in this process."""
    counts = {"save_file": 0, "append_jsonl": 0}
    for name in counts:
        original = getattr(train_module, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(*args, **kwargs)

        setattr(train_module, name, counted)
    return counts


def main(out: Path, seed: int = 0) -> None:
    from sklearn.datasets import load_digits

    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)  # (1797, 8, 8) images in [0, 1]
    writes = count_writes()
    run = out / "run"
    common = dict(n_clusters=10, batch_size=32, random_state=seed, device="cpu", warmup_steps=WARMUP,
                  checkpoint_every=50)
    ClusterGAN(max_steps=STEPS, **common).fit(X, run_dir=run)
    model = ClusterGAN(max_steps=STEPS + MORE, **common).fit(X, run_dir=run, resume=True)
    report = {
        "rank": rank,
        "world_size": int(os.environ["WORLD_SIZE"]),
        "clustergan_sha256": state_sha256(model),
        "clustergan_acc": evaluate_clustering(digits.target, model.labels_)["acc"],
        "clustergan_steps": model.n_iter_,
        "writes": dict(writes),
    }
    nemgan = NEMGAN(n_clusters=10, max_steps=10, batch_size=32, random_state=1, device="cpu", warmup_steps=5).fit(X)
    report["nemgan_sha256"] = state_sha256(nemgan)
    (out / f"rank{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]), *(int(a) for a in sys.argv[2:]))  # out folder [, seed]
