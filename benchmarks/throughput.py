"""Throughput on MNIST: real images/s through a full training step, sampling and predict images/s.

A training step here is one GAN step of the method (the encoder warm-up is skipped): D on a real
and a generated batch, then G with E (ClusterGAN) or h (NEMGAN) on a generated batch plus the
recipe's real-data terms. "Real images" are the images the step draws from the training data
(batch_size x n_critic), the unit of the issue's bar. Each configuration is measured with the
speed settings the library uses on CPU (channels-last conv weights, multi-tensor Adam, one critic
pass over real and fake) and without them ("plain": the code before these settings, bit for bit),
alternating step by step, so that the gain is measured under the same load; medians of per-step
times are reported, and the 1-minute load average is recorded with each number because the CPU may
be shared.

    python benchmarks/throughput.py                      # 2 threads, batch 64, 3 repeats
    python benchmarks/throughput.py --threads 1 --batch-sizes 64 256 --repeats 5
    python benchmarks/throughput.py --compare bf16       # bf16 autocast vs float32 (``amp='bf16'``)

``--compare bf16`` measures the two arms ``amp='bf16'`` chooses between: the step under bfloat16
autocast against the same step in float32, both with the speed settings (sample and predict run
in float32 in both arms, as the library does).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command, load_range, machine, median_of, save_results, write_section  # noqa: E402

from gancluster import NEMGAN, ClusterGAN  # noqa: E402
import gancluster.methods.base as method_base  # noqa: E402
from gancluster.data import load_dataset  # noqa: E402
from gancluster.priors import check_priors  # noqa: E402
from gancluster.train import BatchSampler, _fast_optimizers  # noqa: E402

#: name -> (estimator class, parameters); warm-up off so that every measured step is a GAN step
CONFIGS = {
    "clustergan best, lean": (ClusterGAN, {}),
    "clustergan best, tiny": (ClusterGAN, {"arch": "conv28-tiny"}),
    "clustergan best, mlp": (ClusterGAN, {"arch": "mlp"}),
    "clustergan best, official size": (ClusterGAN, {"arch": "conv28"}),
    "clustergan faithful (official size, WGAN-GP, 5 D steps)": (ClusterGAN, {"recipe": "faithful"}),
    "nemgan best, lean": (NEMGAN, {}),
    "nemgan best, tiny": (NEMGAN, {"arch": "conv28-tiny"}),
    "nemgan best, mlp": (NEMGAN, {"arch": "mlp"}),
    "nemgan best, official size": (NEMGAN, {"arch": "conv28"}),
    "nemgan best, wide inverter": (NEMGAN, {"inverter_arch": "conv28-wide"}),
}
#: the two arms of each comparison (first: the arm under test), as the table names them
ARMS = {"plain": ("speed", "plain"), "bf16": ("bf16", "float32")}
PREDICT_BATCH = 2048


def build(name: str, batch_size: int, fast: bool, data: torch.Tensor):
    cls, params = CONFIGS[name]
    est = cls(n_clusters=10, warmup_steps=0, batch_size=batch_size, random_state=0, device="cpu", **params)
    torch.manual_seed(0)
    method = est._build_method((1, 28, 28), check_priors(None, 10))
    if fast:
        method = method.to(memory_format=torch.channels_last)
        _fast_optimizers(method)
    method.train()
    method.prepare(data)
    return method


def alternate(fns: dict[bool, Callable[[], object]], min_seconds: float, min_calls: int) -> dict[bool, dict]:
    """Call each variant's ``fn`` in turn (A, B, A, B, ...) until both ran ``min_calls`` times and
    ``min_seconds`` passed; per-call wall and CPU seconds. Alternating call by call puts both variants
    under the same load, which matters on a shared machine."""
    for fn in fns.values():
        fn()  # warm caches and allocator (not timed)
    times: dict[bool, dict] = {k: {"wall": [], "cpu": []} for k in fns}
    start = time.perf_counter()
    while min(len(t["wall"]) for t in times.values()) < min_calls or time.perf_counter() - start < min_seconds:
        for key, fn in fns.items():
            w, c = time.perf_counter(), time.process_time()
            fn()
            times[key]["wall"].append(time.perf_counter() - w)
            times[key]["cpu"].append(time.process_time() - c)
    return times


def step_flops(method, sampler: BatchSampler, rng: torch.Generator) -> float | None:
    """FLOPs of one training step (torch's counter: matmuls and convolutions, forward and backward);
    None where the counter cannot follow the step (the gradient penalty's double backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with FlopCounterMode(display=False) as counter:
            method.train_step(sampler, rng)
    except RuntimeError:
        return None
    return float(counter.get_total_flops())


def matmul_gflops(seconds: float = 2.0) -> float:
    """GFLOP per CPU-second of a large float32 matmul (same threads, same load): the practical ceiling."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    _, cpu, calls = timed(lambda: a @ b, seconds, 3)
    return 2 * 1024**3 * calls / cpu / 1e9


def timed(fn, min_seconds: float, min_calls: int) -> tuple[float, float, int]:
    """(wall s, process CPU s, calls) of calling ``fn`` repeatedly for at least ``min_seconds``."""
    fn()
    calls, wall0, cpu0 = 0, time.perf_counter(), time.process_time()
    while calls < min_calls or time.perf_counter() - wall0 < min_seconds:
        fn()
        calls += 1
    return time.perf_counter() - wall0, time.process_time() - cpu0, calls


def measure(name: str, batch_size: int, data: torch.Tensor, seconds: float, compare: str = "plain") -> list[dict]:
    """Both arms of one configuration, alternating step by step: the speed settings on / off
    (``compare='plain'``), or bf16 autocast / float32, both with the speed settings (``'bf16'``)."""
    load = os.getloadavg()[0]
    bf16 = compare == "bf16"
    methods = {fast: build(name, batch_size, fast or bf16, data) for fast in (True, False)}
    rngs = {fast: torch.Generator().manual_seed(0) for fast in methods}
    samplers = {fast: BatchSampler(data, batch_size, torch.Generator().manual_seed(1)) for fast in methods}
    methods[True].train_step(samplers[True], rngs[True])
    per_step = samplers[True].seen  # real images one step draws (batch x n_critic)
    flops = step_flops(methods[True], samplers[True], rngs[True])
    reference = matmul_gflops()
    def step(fast: bool) -> None:
        method_base.JOINT_CRITIC_PASS = fast or bf16
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16 and fast):
            methods[fast].train_step(samplers[fast], rngs[fast])

    train = alternate({f: (lambda f=f: step(f)) for f in methods}, seconds, 5)
    method_base.JOINT_CRITIC_PASS = True
    for m in methods.values():
        m.eval()
    chunk = data[:PREDICT_BATCH]
    with torch.no_grad():
        sample = alternate({f: (lambda f=f: methods[f].generate(PREDICT_BATCH, rngs[f])) for f in methods},
                           seconds / 3, 3)
        predict = alternate({f: (lambda f=f: methods[f].cluster_logits(chunk)) for f in methods}, seconds / 3, 3)
    out = []
    for fast in methods:
        step = statistics.median(train[fast]["wall"])
        step_cpu = statistics.median(train[fast]["cpu"])
        out.append({
            "config": name, "batch_size": batch_size, "speed_settings": fast, "compare": compare,
            "arm": ARMS[compare][0 if fast else 1], "steps": len(train[fast]["wall"]),
            "train_img_s": per_step / step, "train_img_cpu_s": per_step / step_cpu, "step_ms": 1000 * step,
            "real_per_step": per_step,
            "gflop_per_step": None if flops is None else flops / 1e9,
            "gflop_per_cpu_s": None if flops is None else flops / 1e9 / step_cpu,
            "matmul_gflop_s": reference,
            "sample_img_s": PREDICT_BATCH / statistics.median(sample[fast]["wall"]),
            "predict_img_s": PREDICT_BATCH / statistics.median(predict[fast]["wall"]),
            "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2),
        })
    return out


def profile(name: str, batch_size: int, data: torch.Tensor, steps: int = 10) -> list[str]:
    """Where one configuration's step spends its CPU time (torch.profiler), and what the per-step
    float logs cost (each ``float(loss)`` is a host read; on a GPU it would be a synchronisation)."""
    from torch.profiler import ProfilerActivity, profile as torch_profile

    method = build(name, batch_size, True, data)
    rng = torch.Generator().manual_seed(0)
    sampler = BatchSampler(data, batch_size, torch.Generator().manual_seed(1))
    logs = method.train_step(sampler, rng)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            method.train_step(sampler, rng)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    loss = torch.randn(())
    wall, _, calls = timed(lambda: float(loss.detach()), 0.2, 1000)
    per_log_us = 1e6 * wall / calls
    step_us = total / steps
    rows = [f"| {e.key} | {100 * e.self_cpu_time_total / total:.1f} % |" for e in events[:10]]
    return [
        "", f"Profile of `{name}` (batch {batch_size}, speed settings, {steps} steps, torch.profiler, self CPU time "
        "by operator):", "", "| operator | share |", "| --- | --- |", *rows, "",
        f"The step returns {len(logs)} float logs: {per_log_us:.1f} us each on CPU, "
        f"{100 * len(logs) * per_log_us / step_us:.3f} % of the step.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the bar is for 2 cores)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each measurement")
    parser.add_argument("--seconds", type=float, default=6.0, help="minimum timed seconds per measurement")
    parser.add_argument("--n-train", type=int, default=10_000, help="MNIST training images held in memory")
    parser.add_argument("--section", default="throughput")
    parser.add_argument("--profile", action="store_true", help="add an operator profile of the first configuration")
    parser.add_argument("--title", default="Throughput on MNIST (CPU)", help="section title")
    parser.add_argument("--note", default="", help="a paragraph for the section, under its title (what the run is for)")
    parser.add_argument("--compare", choices=list(ARMS), default="plain",
                        help="plain: speed settings vs none; bf16: bf16 autocast vs float32 (module doc)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = torch.from_numpy(load_dataset("mnist", split="train").X[: args.n_train])
    t0 = time.time()
    results = []
    for rep in range(args.repeats):
        for name in args.configs:
            for bs in args.batch_sizes:
                for r in measure(name, bs, data, args.seconds, args.compare):
                    r["repeat"] = rep
                    results.append(r)
                    print(json.dumps({k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()}),
                          flush=True)
    save_results(args.section, results)
    med = median_of
    arms = ARMS[args.compare]
    what = ("Speed settings: channels-last conv weights, multi-tensor Adam and one critic pass over real + fake (the "
            "library's defaults on CPU); plain: none of them." if args.compare == "plain" else
            "bf16: the step under bfloat16 autocast (`amp='bf16'`); float32: the same step without it; both with the "
            "library's speed settings on CPU (channels-last conv weights, multi-tensor Adam, one critic pass).")

    lines = [
        "## " + args.title + (", where the step's time goes (profile)" if args.profile else ""),
        "",
        *([args.note, ""] if args.note else []),
        f"Command: `{command()}`  ",
        f"Machine: {machine()}; {args.repeats} repeats of at least {args.seconds:g} s each, both arms "
        f"alternating step by step; medians of the per-step times; total wall time {(time.time() - t0) / 60:.1f} min.  ",
        "Train: real images/s through one full GAN step (D on real + fake, then G and E/h on fakes plus the "
        "recipe's real-data terms; real images = batch x n_critic). img/CPU-s divides by the process's CPU "
        "time instead of wall time (less sensitive to other jobs on the machine). Sample / predict: batches "
        f"of {PREDICT_BATCH}, no gradients. {what} Load: 1-minute load average before / after, on "
        f"{os.cpu_count()} cores.",
        "",
        "| configuration | batch | settings | train real img/s | train img/CPU-s | step ms | MFLOP / real img | "
        "GFLOP / CPU-s (matmul ref.) | sample img/s | predict img/s | load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in args.configs:
        for bs in args.batch_sizes:
            for fast in (True, False):
                rs = [r for r in results if r["config"] == name and r["batch_size"] == bs and r["speed_settings"] == fast]
                loads = load_range(rs, "load_before", "load_after")
                counted = rs[0]["gflop_per_step"] is not None
                mflop = f"{1000 * rs[0]['gflop_per_step'] / rs[0]['real_per_step']:.0f}" if counted else "-"
                rate = f"{med(rs, 'gflop_per_cpu_s'):.0f} ({med(rs, 'matmul_gflop_s'):.0f})" if counted else \
                    f"- ({med(rs, 'matmul_gflop_s'):.0f})"
                lines.append(
                    f"| {name} | {bs} | {arms[0] if fast else arms[1]} | {med(rs, 'train_img_s'):.0f} | "
                    f"{med(rs, 'train_img_cpu_s'):.0f} | {med(rs, 'step_ms'):.0f} | {mflop} | {rate} | "
                    f"{med(rs, 'sample_img_s'):.0f} | {med(rs, 'predict_img_s'):.0f} | {loads} |"
                )
    gains = []
    for name in args.configs:
        for bs in args.batch_sizes:
            pair = {fast: [r for r in results if r["config"] == name and r["batch_size"] == bs
                           and r["speed_settings"] == fast] for fast in (True, False)}
            ratios = [a["train_img_cpu_s"] / b["train_img_cpu_s"] for a, b in zip(pair[True], pair[False])]
            gains.append(f"{name} (batch {bs}): x{statistics.median(ratios):.2f}")
    lines += ["", f"{arms[0]} vs {arms[1]}, train img/CPU-s, median of the per-repeat ratios: " + "; ".join(gains) + ".",
              "", "MFLOP / real img: torch's FLOP counter over one step (convolutions and matmuls, forward and "
              "backward; '-' where it cannot follow the gradient penalty's double backward). GFLOP / CPU-s: what "
              "the step achieves per CPU-second, beside a 1024 x 1024 float32 matmul measured at the same time "
              "with the same threads (the machine's practical ceiling)."]
    lean = [r for r in results if r["config"] == "clustergan best, lean" and r["gflop_per_step"] is not None]
    if lean:
        mflop = 1000 * lean[0]["gflop_per_step"] / lean[0]["real_per_step"]
        lines[-1] += (f" At {mflop:.0f} MFLOP per real image (lean nets, best recipe), 2,000 real images/s "
                      f"need {2 * mflop:.0f} GFLOP/s.")
    bar = []
    for name in args.configs:
        if name.startswith("clustergan best") and "official" not in name:
            for bs in args.batch_sizes:
                rate = med([r for r in results if r["config"] == name and r["batch_size"] == bs and r["speed_settings"]],
                           "train_img_s")
                bar.append(f"{name} (batch {bs}) {rate:,.0f}: {'reached' if rate >= 2000 else 'NOT reached'}")
    if bar and args.threads >= 2 and args.compare == "plain":  # the bar is for both cores, library settings
        lines += ["", "Bar of issue 7 (>= 2,000 real images/s through a full G+D+E step on 2 cores, library speed "
                  "settings): " + "; ".join(bar) + "."]
    if args.profile:
        lines += profile(args.configs[0], args.batch_sizes[0], data)
    write_section(args.section, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
