"""Train the MNIST / Fashion-MNIST classifiers behind the domain FID and ship them as safetensors.

    python benchmarks/train_domain_classifier.py                       # both datasets, seed 0
    python benchmarks/train_domain_classifier.py --datasets mnist --epochs 1 --quick --no-save

Trains on the full train split (60k), reports accuracy on the test split (10k) into the
"domain-classifier" section of BENCHMARKS.md, and writes the weights of the first seed to
``src/gancluster/assets/<dataset>_classifier.safetensors`` (unless ``--no-save``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command, machine, mean_std, write_section  # noqa: E402

from gancluster.classifier import (  # noqa: E402
    DOMAIN_CLASSIFIERS,
    ClassifierConfig,
    DomainClassifier,
    classifier_path,
    domain_logits,
    save_domain_classifier,
)
from gancluster.data import load_dataset  # noqa: E402


def shift_augment(x: torch.Tensor, gen: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random translations by up to ``max_shift`` pixels (zero padding): cheap, label-preserving."""
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None]).view(n, 1, h, 1).expand(n, x.shape[1], h, w + 2 * max_shift)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w)[None]).view(n, 1, 1, w).expand(n, x.shape[1], h, w)
    return out.gather(3, cols)


def train_one(dataset: str, seed: int, epochs: int, batch_size: int, n_train: int | None) -> tuple[DomainClassifier, float, float]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    train = load_dataset(dataset, split="train")
    test = load_dataset(dataset, split="test")
    X = torch.from_numpy(train.X)
    y = torch.from_numpy(train.y)
    if n_train is not None:
        X, y = X[:n_train], y[:n_train]
    model = DomainClassifier(ClassifierConfig())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps = epochs * ((len(X) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    start = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(X), generator=gen)
        total = 0.0
        for i in range(0, len(X), batch_size):
            idx = perm[i : i + batch_size]
            loss = F.cross_entropy(model(shift_augment(X[idx], gen)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"{dataset} seed {seed} epoch {epoch + 1}/{epochs}: loss {total / len(X):.4f} "
              f"({time.time() - start:.0f}s)", flush=True)  # fmt: skip
    model.eval()
    acc = float((domain_logits(model, test.X).argmax(1) == test.y).mean())
    return model, acc, time.time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DOMAIN_CLASSIFIERS), choices=list(DOMAIN_CLASSIFIERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--quick", action="store_true", help="5k training images, 1 epoch (smoke test)")
    parser.add_argument("--no-save", action="store_true", help="do not overwrite the shipped weights")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    epochs, n_train = (1, 5000) if args.quick else (args.epochs, None)

    t0 = time.time()
    rows = []
    for name in args.datasets:
        accs, times = [], []
        for k, seed in enumerate(args.seeds):
            model, acc, secs = train_one(name, seed, epochs, args.batch_size, n_train)
            print(f"{name} seed {seed}: test accuracy {acc:.4f} in {secs:.0f}s", flush=True)
            accs.append(acc)
            times.append(secs)
            if k == 0 and not args.no_save:
                info = {"dataset": name, "test_accuracy": acc, "epochs": epochs, "seed": seed,
                        "n_train": int(n_train or 60000), "script": "benchmarks/train_domain_classifier.py"}  # fmt: skip
                path = save_domain_classifier(model, classifier_path(name), info)
                print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
        n_params = sum(p.numel() for p in model.parameters())
        rows.append(f"| {name} | {mean_std(accs, 4)} | {len(args.seeds)} | {n_params:,} | {np.mean(times):.0f} |")

    body = "\n".join([
        "## Domain classifiers (features of the domain FID)",
        "",
        "Small CNN (3 conv-BN-ReLU-pool blocks, FC 128 = the feature layer, FC 10), trained on",
        f"{n_train or 60000:,} train-split images with +-2 px shifts, Adam + one-cycle LR, batch {args.batch_size}, {epochs} epochs;",
        "accuracy on the 10k test split. The first seed's weights ship in `src/gancluster/assets/`.",
        "",
        "| dataset | test accuracy | seeds | parameters | train s / seed |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Command: `{command()}`; seeds {args.seeds}; wall time {time.time() - t0:.0f} s; {machine()}"
        " (shared, loaded machine).",
    ])  # fmt: skip
    if args.quick or args.no_save:
        print(body)
    else:
        write_section("domain-classifier", body)


if __name__ == "__main__":
    main()
