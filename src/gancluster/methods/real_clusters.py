"""Clusters learned on real data: the inverter recipe that ClusterGAN, NEMGAN and GM-GAN share.

In the papers the inverter (ClusterGAN's encoder, NEMGAN's ``h``, GM-GAN's classifier) learns its
clusters from generated data only, which takes a generator that already draws good data: hundreds
of thousands of GPU steps. The best CPU recipes also teach the inverter's cluster head on real data,
with the SCAN objective that PGMGAN's partitioner uses (paper 003, eq. 5):

- *neighbour agreement*: a sample and one of its nearest neighbours (a k-NN graph of PCA
  features, built once; ``real_graph='auto'`` first deskews and centres single-channel images by
  their ink moments, so that neighbours share a shape rather than a slant; ``real_graph='hog'``
  compares histograms of oriented gradients, for objects whose outline names the class) should
  fall in the same cluster, ``-log <p(x), p(x_nn)>``, on augmented views;
- *prior matching*: the batch mean of the cluster probabilities is pulled to the cluster priors
  (condition C3 of paper 000, applied to the inverter's view of real data);
- *confidence* (optional, ``real_confidence``): the mean per-sample entropy, paper 003's alpha term.
  With imbalanced priors, agreement and prior matching are both nearly satisfied by giving every
  sample the prior vector itself; low per-sample entropy rules that out.
- *spectral start* (optional, ``real_spectral``): during the warm-up, a class-balanced cross-entropy
  to a spectral partition of the k-NN graph whose cluster sizes are the priors
  (:mod:`gancluster.spectral`). This is what gets imbalanced data (90:10) out of the trivial
  optimum above, which the confidence term alone did not.

After the warm-up, *self-labelling* (SCAN's last step) can sharpen the clusters during the GAN
phase: samples the head is confident about (max probability >= a threshold, on the unaugmented
image) become pseudo-labels for their augmented view, cross-entropy weighted by the inverse
frequency of each pseudo-label in the batch so large clusters do not swallow small ones.

Before the GAN starts, a *warm-up* trains the inverter alone with these terms on large batches
(cheap steps: no generator, no discriminator). It trains several cluster heads on the shared body
and keeps the one with the lowest running loss (as SCAN does), because a single head sometimes
settles on a partition that merges two classes and splits another.

A method owns the heads and buffers (so its checkpoints carry them) and calls the functions here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..augment import augment
from ..losses import balanced_cross_entropy, entropy, kl_to_priors, neighbour_agreement
from ..errors import GanclusterError
from ..neighbours import hog_features, knn_graph, moment_normalise, pca_features
from ..spectral import labelled_partition, spectral_partition
from .base import Batch

#: decay of the running mean of each warm-up head's loss (the head with the lowest one is kept)
HEAD_LOSS_DECAY = 0.98
#: the k-NN graphs a method's ``real_graph`` may name (:func:`neighbour_graph`)
REAL_GRAPHS = ("auto", "pixels", "deskewed", "hog")
#: fewest training rows for the spectral start (below it the warm-up runs without)
MIN_SPECTRAL_ROWS = 100


@dataclass(frozen=True)
class RealClusterRecipe:
    """The real-data terms and the warm-up, read from a method's flat settings (``real_*``, ``warmup_*``)."""

    agreement: float
    prior_match: float
    neighbours: int
    augment: bool
    warmup_steps: int
    warmup_batch_size: int
    warmup_lr: float
    warmup_heads: int = 1
    self_label: float = 0.0
    self_label_threshold: float = 0.99
    graph: str = "pixels"
    confidence: float = 0.0
    spectral: float = 0.0

    @classmethod
    def of(cls, settings: Any) -> "RealClusterRecipe":
        return cls(
            agreement=settings.real_agreement, prior_match=settings.real_prior_match,
            neighbours=settings.real_neighbours, augment=settings.real_augment,
            warmup_steps=settings.warmup_steps, warmup_batch_size=settings.warmup_batch_size,
            warmup_lr=settings.warmup_lr, warmup_heads=getattr(settings, "warmup_heads", 1),
            self_label=getattr(settings, "real_self_label", 0.0),
            self_label_threshold=getattr(settings, "real_self_label_threshold", 0.99),
            graph=getattr(settings, "real_graph", "pixels"),
            confidence=getattr(settings, "real_confidence", 0.0),
            spectral=getattr(settings, "real_spectral", 0.0),
        )

    @property
    def active(self) -> bool:
        return self.agreement > 0 or self.prior_match > 0

    @property
    def extra_heads(self) -> int:
        """Cluster heads trained beside the inverter's own during the warm-up."""
        return self.warmup_heads - 1 if self.warmup_steps > 0 else 0


def neighbour_graph(recipe: RealClusterRecipe, data: Tensor) -> Tensor | None:
    """The k-NN graph the agreement term draws neighbours from (None when the term is off).

    ``graph``: 'pixels' compares PCA features of the images as they are; 'deskewed' of the images
    after :func:`~gancluster.neighbours.moment_normalise`; 'auto' deskews single-channel images
    (glyphs on a plain background, where slant and position say nothing of the class) only; 'hog'
    compares :func:`~gancluster.neighbours.hog_features` by cosine (outlines rather than ink: on
    FMNIST-5 it lifted NEMGAN's Table I ACC, BENCHMARKS.md). Data streamed from disk keep the pixel
    graph (normalising them would load them whole).
    """
    if recipe.agreement <= 0:
        return None
    in_memory_images = _in_memory_images(data)
    if recipe.graph == "hog":
        if isinstance(data, Tensor) and not in_memory_images:
            raise GanclusterError(f"real_graph='hog' describes images (N, C, H, W); got data of shape "
                                  f"{tuple(data.shape)}: use real_graph='pixels' for vectors")
        if in_memory_images:
            return knn_graph(data, recipe.neighbours, features=hog_features(data), metric="cosine")
    deskew = recipe.graph == "deskewed" or (recipe.graph == "auto" and data.dim() == 4 and data.shape[1] == 1)
    if deskew and in_memory_images:
        return knn_graph(data, recipe.neighbours, features=pca_features(moment_normalise(data)))
    return knn_graph(data, recipe.neighbours)


def spectral_graph(recipe: RealClusterRecipe, data: Tensor, graph: Tensor | None) -> Tensor | None:
    """The graph the spectral start partitions: the agreement ``graph``, but the pixel graph under 'hog'.

    On FMNIST-5 the HOG graph's neighbours agree more than the pixel graph's (0.937 vs 0.929), but
    its prior-sized spectral partition is worse (ACC 0.846 vs 0.896; 60k training images, offline
    check): the start keeps the pixel graph's partition, the agreement term the purer neighbours.
    """
    if graph is None or recipe.graph != "hog" or not _in_memory_images(data):
        return graph
    return knn_graph(data, recipe.neighbours)


def _in_memory_images(data: Any) -> bool:
    """Image batches (N, C, H, W) in memory; data streamed from disk keep the pixel graph."""
    return isinstance(data, Tensor) and data.dim() == 4


def spectral_targets(
    recipe: RealClusterRecipe, data: Tensor, graph: Tensor | None, priors: Tensor,
    labelled: tuple[Tensor, Tensor] | None = None,
) -> Tensor | None:
    """Cluster id per training row (-1: none) for the spectral start of the warm-up.

    With known ``priors``, the prior-sized partition of :func:`spectral_graph` (``graph``, the
    agreement term's, or the pixel graph of ``data`` under 'hog'); with ``labelled`` rows (indices,
    labels; priors being learned) the labelled majority of each fine spectral cluster instead. None
    when the term is off, or for fewer than :data:`MIN_SPECTRAL_ROWS` rows (a handful of samples
    makes no graph worth partitioning).
    """
    if recipe.spectral <= 0 or recipe.warmup_steps == 0 or graph is None or graph.shape[0] < MIN_SPECTRAL_ROWS:
        return None
    graph = spectral_graph(recipe, data, graph)  # built only here, once the start is known to run
    if labelled is not None:
        return labelled_partition(graph, *labelled, n_clusters=priors.shape[0])
    return spectral_partition(graph, priors.detach())


def real_views(
    recipe: RealClusterRecipe, batch: Batch, graph: Tensor | None, rng: torch.Generator, *, self_label: bool = False,
) -> Tensor:
    """The real batch and (for the agreement term) a random neighbour of each sample, augmented.

    With ``self_label`` (and the recipe's weight > 0) the unaugmented batch follows, as the
    pseudo-label source of :func:`cluster_terms`.
    """
    x = batch.x
    views = [x]
    if recipe.agreement > 0 and graph is not None:
        pick = torch.randint(0, graph.shape[1], (x.shape[0],), generator=rng, device=x.device)
        views.append(batch.source[graph[batch.index, pick]])
    if recipe.augment:
        views = [augment(v, rng) for v in views]
    if self_label and recipe.self_label > 0:
        views.append(x)
    return torch.cat(views)


def cluster_terms(
    recipe: RealClusterRecipe, logits: Tensor, priors: Tensor, logs: dict[str, float], *,
    agreement: bool = True, prior_pull: bool = True, self_label: bool = False,
) -> Tensor:
    """Neighbour agreement, prior matching (and self-labelling) of cluster logits on :func:`real_views`.

    ``agreement`` says whether the views hold neighbour pairs; ``prior_pull=False`` leaves the
    priors out (NEMGAN learning its priors from labels); ``self_label`` says the views end with the
    unaugmented batch (``real_views(..., self_label=True)``).
    """
    loss = logits.new_zeros(())
    if self_label and recipe.self_label > 0:
        n = logits.shape[0] // (3 if agreement and recipe.agreement > 0 else 2)
        logits, plain = logits[:-n], logits[-n:]
        pseudo = self_label_loss(logits[:n], plain, recipe.self_label_threshold)
        loss = loss + recipe.self_label * pseudo
        logs["loss_self_label"] = float(pseudo.detach())
    probs = F.softmax(logits, dim=1)
    if agreement and recipe.agreement > 0:
        agree = neighbour_agreement(*probs.chunk(2))
        loss = loss + recipe.agreement * agree
        logs["loss_real_agree"] = float(agree.detach())
    if recipe.confidence > 0:  # confident rows: with the prior pull, this rules out p(x) = priors for every x
        ent = entropy(probs)
        loss = loss + recipe.confidence * ent
        logs["loss_real_entropy"] = float(ent.detach())
    if prior_pull and recipe.prior_match > 0:
        match = kl_to_priors(probs, priors.detach())
        loss = loss + recipe.prior_match * match
        logs["loss_real_prior"] = float(match.detach())
    return loss


def self_label_loss(logits: Tensor, target_logits: Tensor, threshold: float) -> Tensor:
    """Cross-entropy of ``logits`` to the confident argmax of ``target_logits`` (SCAN's self-labelling).

    Only rows whose target probability reaches ``threshold`` count; each pseudo-label is weighted by
    the inverse of its count among them, so every cluster weighs the same.
    """
    with torch.no_grad():
        conf, target = F.softmax(target_logits, dim=1).max(1)
        keep = conf >= threshold
    if not bool(keep.any()):
        return logits.new_zeros(())
    return balanced_cross_entropy(logits[keep], target[keep])


def warmup_batch(recipe: RealClusterRecipe, source: Tensor, rng: torch.Generator) -> Batch:
    """A large batch of real rows drawn with replacement (warm-up steps are cheap, batches big)."""
    index = torch.randint(0, source.shape[0], (recipe.warmup_batch_size,), generator=rng, device=source.device)
    return Batch(source[index], index, source)


def warmup_loss(
    recipe: RealClusterRecipe, net: nn.Module, offset: int, extra_heads: nn.ModuleList, head_loss: Tensor,
    views: Tensor, priors: Tensor, logs: dict[str, float], *, agreement: bool = True, prior_pull: bool = True,
    targets: Tensor | None = None, balanced: bool = True,
) -> Tensor:
    """Summed loss of every warm-up head on ``views``; updates their running losses.

    ``net`` is a critic-shaped network (``features`` and ``head``) whose cluster logits are
    ``head(features)[:, offset:]``; ``extra_heads`` read the same features. ``targets`` (cluster
    ids of the batch rows, -1 for none; :func:`spectral_targets`) add the spectral-start term on
    the first view, a class-balanced cross-entropy unless ``balanced=False`` (priors being learned
    from ``E[h(x)]``, which the balancing would tilt towards small clusters).
    """
    feats = net.features(views)
    heads = [net.head(feats)[:, offset:], *(h(feats) for h in extra_heads)]
    known = None if targets is None else targets >= 0  # -1: a row with no target

    def head_loss_of(i: int, logits: Tensor) -> Tensor:
        head_logs = logs if i == 0 else {}
        loss = cluster_terms(recipe, logits, priors, head_logs, agreement=agreement, prior_pull=prior_pull)
        if targets is not None and bool(known.any()):
            ce = balanced_cross_entropy if balanced else F.cross_entropy
            start = ce(logits[: targets.shape[0]][known], targets[known])
            head_logs["loss_real_spectral"] = float(start.detach())
            loss = loss + recipe.spectral * start
        return loss

    losses = torch.stack([head_loss_of(i, logits) for i, logits in enumerate(heads)])
    with torch.no_grad():
        head_loss.mul_(HEAD_LOSS_DECAY).add_((1 - HEAD_LOSS_DECAY) * losses.detach())
    return losses.sum()


@torch.no_grad()
def keep_best_head(net: nn.Module, offset: int, extra_heads: nn.ModuleList, head_loss: Tensor) -> int:
    """Copy the warm-up head with the lowest running loss into ``net``'s cluster head; returns its index."""
    best = int(head_loss.argmin())
    if best > 0:
        chosen = extra_heads[best - 1]
        net.head.weight[offset:] = chosen.weight
        net.head.bias[offset:] = chosen.bias
    return best


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


# ---- the warm-up phase ---------------------------------------------------------------------------
def register_phase_state(method: nn.Module, warmup_steps: int) -> None:
    """Buffers that tell a resumed run where it is: steps taken, and the step the warm-up ends at."""
    method.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
    # earlier than warmup_steps when a time budget cuts the warm-up short
    method.register_buffer("warmup_end", torch.tensor(warmup_steps, dtype=torch.long))


def next_step_in_warmup(method: Any, max_share: float) -> bool:
    """Count one training step; True while it belongs to the warm-up.

    The warm-up ends once ``max_share`` of the run's budget (steps or time, the nearer) is used even if
    its steps are not done, so a short or slowed-down run still trains its generator (and ``sample``
    draws every cluster).
    """
    if int(method.steps_done) < int(method.warmup_end) and method.budget_used >= max_share:
        method.warmup_end.fill_(int(method.steps_done) + 1)  # this step is the last of the warm-up
    warm = int(method.steps_done) < int(method.warmup_end)
    method.steps_done += 1
    return warm
