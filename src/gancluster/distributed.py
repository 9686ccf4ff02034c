"""Data-parallel training over several processes (``torchrun``), gloo on CPU, NCCL on GPU.

Every rank holds the whole model and draws its batches from its own shard of the data; the global
batch is ``world_size x batch_size``. The design is DDP's (gradient all-reduce, rank 0's buffers)
without wrapping the networks in ``DistributedDataParallel``, because a method here steps several
optimizers per training step (G, E / h, D, the learnable prior), runs the same network in several
passes (real and fake batches, frozen-parameter copies through ``functional_call``) and takes a
double backward for the gradient penalty; a wrapper would need all of that to go through its
``forward``. Instead:

- :class:`GradientSync` registers a pre-step hook on every optimizer that averages the gradients of
  the parameters it is about to update over all ranks (one flattened all-reduce per optimizer
  step), so every rank applies the same update to the same weights;
- after every step the Trainer broadcasts rank 0's buffers (BatchNorm running statistics, running
  loss means) and checks a checksum of every parameter on all ranks; a mismatch (a rank-dependent
  decision inside a method) is repaired from rank 0 and logged;
- only rank 0 writes the run folder; all ranks read the same checkpoint on resume.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from .errors import GanclusterError

#: environment variables torchrun sets in each process it launches
TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
_JOINED = False  # whether setup() initialised the process group (then shutdown() may end it)


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a multi-process run."""

    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def as_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "world_size": self.world_size, "local_rank": self.local_rank,
                "backend": self.backend}


def launched_by_torchrun() -> bool:
    """Whether torchrun (or another launcher with its variables) started this process with > 1 rank."""
    try:
        return all(v in os.environ for v in TORCHRUN_VARS) and int(os.environ["WORLD_SIZE"]) > 1
    except ValueError:
        return False


def current() -> DistContext | None:
    """The context of an already initialised process group (None when training in one process)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return None
    local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    return DistContext(dist.get_rank(), dist.get_world_size(), local, str(dist.get_backend()))


def setup(device: str = "auto", required: bool = False) -> DistContext | None:
    """Join the process group described by torchrun's environment; None when not launched by it.

    ``required`` (the CLI's ``--distributed``) turns a missing environment into an error. The
    backend is NCCL when this rank trains on a GPU, gloo otherwise.
    """
    ctx = current()
    if ctx is not None:
        return ctx
    if not launched_by_torchrun():
        if required:
            raise GanclusterError(
                "--distributed needs the environment torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, "
                "MASTER_PORT with WORLD_SIZE > 1); launch with: torchrun --nproc-per-node 2 -m gancluster.cli train ..."
            )
        return None
    if not dist.is_available():
        raise GanclusterError("this torch build has no torch.distributed; install a torch with distributed support")
    local = int(os.environ["LOCAL_RANK"])
    use_cuda = device != "cpu" and torch.cuda.is_available()
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(local if device in ("auto", "cuda") else torch.device(device))
    try:
        dist.init_process_group(backend=backend, init_method="env://")
    except (RuntimeError, ValueError) as exc:
        raise GanclusterError(f"could not join the process group ({backend}): {exc}; check MASTER_ADDR / "
                              "MASTER_PORT and that every rank was started") from exc
    global _JOINED
    _JOINED = True
    return current()


def rank_device(device: str, ctx: DistContext | None) -> str:
    """``auto`` / ``cuda`` become this rank's GPU (``cuda:LOCAL_RANK``) in a multi-process run."""
    if ctx is None or device not in ("auto", "cuda") or not torch.cuda.is_available():
        return device
    return f"cuda:{ctx.local_rank}"


def rank_seed(seed: int, rank: int) -> int:
    """The seed of a rank's latents, augmentations and data order (rank 0 keeps the run's seed)."""
    return (int(seed) + 1_000_003 * int(rank)) % (2**63 - 1)


def _comm_device(ctx: DistContext, like: Tensor) -> torch.device:
    """NCCL talks to GPU tensors, gloo to CPU ones."""
    return like.device if ctx.backend != "gloo" else torch.device("cpu")


def broadcast_int(ctx: DistContext | None, value: int, device: torch.device | None = None) -> int:
    """Rank 0's ``value`` on every rank (e.g. a seed drawn at random)."""
    if ctx is None:
        return int(value)
    t = torch.tensor([int(value)], dtype=torch.int64,
                     device=device if ctx.backend != "gloo" and device is not None else "cpu")
    dist.broadcast(t, 0)
    return int(t.item())


def _flat(tensors: list[Tensor], dtype: torch.dtype, device: torch.device) -> Tensor:
    return torch.cat([t.detach().reshape(-1).to(device=device, dtype=dtype) for t in tensors])


def _unflat(flat: Tensor, tensors: list[Tensor]) -> None:
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset : offset + n].view_as(t))
        offset += n


def broadcast_tensors(ctx: DistContext, tensors: list[Tensor]) -> None:
    """Copy rank 0's values into ``tensors`` on every rank (in place; one collective per dtype)."""
    by_dtype: dict[torch.dtype, list[Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    for dtype, group in sorted(by_dtype.items(), key=lambda kv: str(kv[0])):
        if not group:
            continue
        device = _comm_device(ctx, group[0])
        comm = torch.float64 if dtype in (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32) else dtype
        flat = _flat(group, comm, device)
        dist.broadcast(flat, 0)
        with torch.no_grad():
            _unflat(flat.to(dtype), group)


def module_buffers(module: nn.Module) -> list[Tensor]:
    """The buffers a checkpoint holds (persistent ones), in a fixed order."""
    keys = set(module.state_dict().keys())
    return [b for name, b in module.named_buffers() if name in keys and b is not None]


def broadcast_module(ctx: DistContext, module: nn.Module, buffers_only: bool = False) -> None:
    """Rank 0's parameters (unless ``buffers_only``) and persistent buffers on every rank."""
    tensors = [] if buffers_only else [p.data for p in module.parameters()]
    broadcast_tensors(ctx, tensors + module_buffers(module))


def parameter_checksums(module: nn.Module) -> Tensor:
    """One float64 sum per parameter tensor: equal on all ranks when the weights are."""
    params = list(module.parameters())
    if not params:
        return torch.zeros(0, dtype=torch.float64)
    return torch.stack([p.detach().sum(dtype=torch.float64) for p in params]).cpu()


class GradientSync:
    """Average gradients over ranks right before each optimizer step (pre-step hooks).

    Only parameters that hold a gradient take part, as in the optimizer's own step; a rank whose
    set of gradients differs from rank 0's (a rank-dependent code path) is an error, not a hang.
    """

    def __init__(self, ctx: DistContext, optimizers: dict[str, torch.optim.Optimizer]) -> None:
        self.ctx = ctx
        self.handles = [opt.register_step_pre_hook(self._hook(name)) for name, opt in optimizers.items()]
        self.calls = 0

    def _hook(self, name: str):
        def hook(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
            grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
            self.sync(grads, name)

        return hook

    def sync(self, grads: list[Tensor], name: str = "") -> None:
        ctx = self.ctx
        device = _comm_device(ctx, grads[0]) if grads else torch.device("cpu")
        n = sum(g.numel() for g in grads)
        check = torch.tensor([n, -n], dtype=torch.int64, device=device)
        dist.all_reduce(check, op=dist.ReduceOp.MAX)
        if int(check[0]) != n or int(-check[1]) != n:
            raise GanclusterError(
                f"distributed training: the ranks computed different gradient sets for optimizer {name!r} "
                f"({n} values here, between {int(-check[1])} and {int(check[0])} on the ranks); the method takes a "
                "rank-dependent code path: train it in one process"
            )
        if n == 0:
            return
        self.calls += 1
        flat = _flat(grads, grads[0].dtype, device)
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= ctx.world_size
        with torch.no_grad():
            _unflat(flat, grads)

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


def barrier(ctx: DistContext | None) -> None:
    if ctx is not None:
        dist.barrier()


def shutdown() -> None:
    """Leave the process group :func:`setup` joined (the CLI does, once its run is written)."""
    global _JOINED
    if _JOINED and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    _JOINED = False
