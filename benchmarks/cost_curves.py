"""Cost curves: time per epoch against dataset size, and time per step against the number of partitions.

1. ClusterGAN (best recipe, lean nets) on 1k ... 60k MNIST training images: the one-off k-NN graph
   of ``prepare`` (timed), the time of one GAN step (measured), and the epoch time = step time x
   steps per epoch (n / batch size).
2. PGMGAN's shared conditional G/D on 10k MNIST images with K = 2 ... 200 partitions: the time of
   one GAN step at a fixed batch size (the issue's bar: K = 200 within 1.3x of K = 10), and
   separately the partitioner's preparation (SimCLR pretext + eq. 5, a fixed number of steps each,
   plus its k-NN graph), which runs once before the GAN.

Repeats are interleaved across sizes / K so that a change in the machine's load hits all of them;
the 1-minute load average is recorded with each number.

    python benchmarks/cost_curves.py
    python benchmarks/cost_curves.py --threads 2 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, command, load_range, machine, median_of, save_results, write_section  # noqa: E402

from gancluster import PGMGAN, ClusterGAN  # noqa: E402
from gancluster.data import load_dataset  # noqa: E402
from gancluster.priors import check_priors  # noqa: E402
from gancluster.train import BatchSampler, _fast_optimizers  # noqa: E402

SIZES = [1000, 5000, 10000, 30000, 60000]
KS = [2, 10, 50, 100, 200]


def fast(method):
    method = method.to(memory_format=torch.channels_last)  # the library's CPU settings (estimator.fit)
    _fast_optimizers(method)
    return method


def step_time(method, data: torch.Tensor, batch_size: int, steps: int) -> tuple[float, float]:
    """Median wall and CPU seconds of one training step over ``steps`` steps (after two untimed ones)."""
    rng = torch.Generator().manual_seed(0)
    sampler = BatchSampler(data, batch_size, torch.Generator().manual_seed(1))
    for _ in range(2):
        method.train_step(sampler, rng)
    walls, cpus = [], []
    for _ in range(steps):
        w, c = time.perf_counter(), time.process_time()
        method.train_step(sampler, rng)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def size_point(data: torch.Tensor, n: int, batch_size: int, steps: int) -> dict:
    load = os.getloadavg()[0]
    est = ClusterGAN(n_clusters=10, warmup_steps=0, batch_size=batch_size, random_state=0, device="cpu")
    torch.manual_seed(0)
    method = fast(est._build_method((1, 28, 28), check_priors(None, 10)))
    method.train()
    subset = data[:n]
    t = time.perf_counter()
    method.prepare(subset)  # the k-NN graph of the agreement term
    prep = time.perf_counter() - t
    wall, cpu = step_time(method, subset, batch_size, steps)
    n_critic = method.settings.n_critic  # a step reads one real batch per critic update
    per_epoch = n // (batch_size * n_critic)
    return {"n": n, "prepare_s": prep, "step_s": wall, "step_cpu_s": cpu, "steps_per_epoch": per_epoch,
            "n_critic": n_critic, "epoch_s": wall * per_epoch, "load": round(load, 2)}


def k_point(data: torch.Tensor, k: int, batch_size: int, steps: int, prep_steps: int) -> dict:
    load = os.getloadavg()[0]
    est = PGMGAN(n_clusters=k, batch_size=batch_size, random_state=0, device="cpu", pretext_steps=prep_steps,
                 scan_steps=prep_steps, self_label_steps=0, partition_subset=data.shape[0])
    torch.manual_seed(0)
    method = fast(est._build_method((1, 28, 28), check_priors(None, k)))
    method.train()
    t = time.perf_counter()
    method.prepare(data)  # pretext + k-NN graph + eq. 5, then the partition of every sample
    prep = time.perf_counter() - t
    wall, cpu = step_time(method, data, batch_size, steps)
    return {"k": k, "prepare_s": prep, "step_s": wall, "step_cpu_s": cpu, "load": round(load, 2)}


def plot(sizes: list[dict], ks: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    ns = sorted({r["n"] for r in sizes})
    epoch = [statistics.median(r["epoch_s"] for r in sizes if r["n"] == n) for n in ns]
    prep = [statistics.median(r["prepare_s"] for r in sizes if r["n"] == n) for n in ns]
    a.plot(ns, epoch, "o-", label="one epoch of GAN steps")
    a.plot(ns, prep, "s--", label="k-NN graph (once, in prepare)")
    a.plot(ns, [epoch[0] * n / ns[0] for n in ns], ":", color="grey", label="linear in n")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("MNIST training images n")
    a.set_ylabel("seconds")
    a.set_title("ClusterGAN (best, lean): cost vs dataset size")
    a.grid(alpha=0.3, which="both")
    a.legend()
    kk = sorted({r["k"] for r in ks})
    top = 0.0
    for key, label, colour in (("step_s", "GAN step, wall", "C0"), ("step_cpu_s", "GAN step, CPU time", "C1")):
        step = [1000 * statistics.median(r[key] for r in ks if r["k"] == k) for k in kk]
        ten = step[kk.index(10)] if 10 in kk else step[0]
        b.plot(kk, step, "o-", color=colour, label=label)
        b.axhline(1.3 * ten, color=colour, ls=":", alpha=0.7, label=f"1.3 x K=10 ({label.split(', ')[1]})")
        top = max(top, *step, 1.3 * ten)
    b.set_xlabel("partitions K")
    b.set_ylabel("ms per step (batch 100)")
    b.set_ylim(0, top * 1.25)
    b.set_title("PGMGAN shared G/D: step time vs K")
    b.grid(alpha=0.3)
    b.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES)
    parser.add_argument("--ks", type=int, nargs="+", default=KS)
    parser.add_argument("--batch-size", type=int, default=64, help="ClusterGAN batch (PGMGAN: its default 100)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per point")
    parser.add_argument("--prep-steps", type=int, default=50, help="PGMGAN pretext and eq. 5 steps (each)")
    parser.add_argument("--k-data", type=int, default=10_000, help="MNIST images for the K sweep")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--section", default="cost-curves")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = torch.from_numpy(load_dataset("mnist", split="train").X)
    t0 = time.time()
    sizes, ks = [], []
    for rep in range(args.repeats):
        for n in args.sizes:
            sizes.append({**size_point(data, n, args.batch_size, args.steps), "repeat": rep})
            print(json.dumps(sizes[-1]), flush=True)
        for k in args.ks:
            ks.append({**k_point(data[: args.k_data], k, 100, args.steps, args.prep_steps), "repeat": rep})
            print(json.dumps(ks[-1]), flush=True)
    save_results("cost_curves", {"sizes": sizes, "ks": ks})
    figure = ROOT / "benchmarks" / "figures" / f"{args.section}.png"
    plot(sizes, ks, figure)
    med = median_of
    lines = [
        "## Cost curves (CPU)",
        "",
        f"Command: `{command()}`  ",
        f"Machine: {machine()}; {args.repeats} interleaved repeats, medians shown (per point: the median of "
        f"{args.steps} timed steps); total wall time {(time.time() - t0) / 60:.1f} min; load: 1-minute load "
        f"average on {os.cpu_count()} cores when the point started. Figure: `{figure.relative_to(ROOT)}`.",
        "",
        f"**Dataset size**, ClusterGAN best recipe, lean nets, batch {args.batch_size}, GAN steps "
        f"({sizes[0]['n_critic']} D updates, each on its own real batch, and one G/E update). Epoch = step time x "
        f"n / (batch x {sizes[0]['n_critic']}). The k-NN graph is built once per fit (exact, in chunks, "
        "on 50 PCA components).",
        "",
        "| n | GAN step ms | step CPU ms | steps / epoch | epoch s | epoch s per 1k images | k-NN prepare s | load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n in args.sizes:
        rs = [r for r in sizes if r["n"] == n]
        lines.append(f"| {n} | {1000 * med(rs, 'step_s'):.0f} | {1000 * med(rs, 'step_cpu_s'):.0f} | "
                     f"{rs[0]['steps_per_epoch']} | {med(rs, 'epoch_s'):.1f} | {1000 * med(rs, 'epoch_s') / n:.2f} | "
                     f"{med(rs, 'prepare_s'):.1f} | {load_range(rs)} |")
    ten = [r for r in ks if r["k"] == 10]
    lines += [
        "",
        f"**Partitions K**, PGMGAN best recipe (shared conditional G with conditional BatchNorm, projection D, "
        f"hinge loss, guide term through the partitioner) on {args.k_data} MNIST images, batch 100. The bar "
        "(K = 200 within 1.3x of K = 10) refers to the GAN step. Preparation, separate and once per fit: "
        f"SimCLR pretext ({args.prep_steps} steps) + k-NN graph + eq. 5 ({args.prep_steps} steps) + labelling "
        "all samples; its real cost scales with the step counts of the recipe, not with K.",
        "",
        "| K | GAN step ms | step CPU ms | x K=10 (wall) | x K=10 (CPU) | prepare s | load |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    def vs_ten(rs: list[dict], key: str) -> float:  # median of per-repeat ratios (same load within a repeat)
        return statistics.median(a[key] / b[key] for a, b in zip(rs, ten)) if ten else float("nan")

    for k in args.ks:
        rs = [r for r in ks if r["k"] == k]
        lines.append(f"| {k} | {1000 * med(rs, 'step_s'):.0f} | {1000 * med(rs, 'step_cpu_s'):.0f} | "
                     f"{vs_ten(rs, 'step_s'):.2f} | {vs_ten(rs, 'step_cpu_s'):.2f} | {med(rs, 'prepare_s'):.1f} | "
                     f"{load_range(rs)} |")
    write_section(args.section, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
