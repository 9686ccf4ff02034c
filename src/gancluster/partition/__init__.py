"""PGMGAN's space partitioner: features, eq. 5 training, Lipschitz (i-ResNet) networks and the guide."""

from .features import PretextSettings, nt_xent, pretext_features, train_pretext
from .guide import LambdaSchedule, guide, guided_generator_loss
from .lipschitz import (
    Partitioner,
    PlainMLP,
    SNConv2d,
    SNLinear,
    build_partitioner,
    lipschitz_layers,
    operator_norm,
    refresh_spectral_norms,
)
from .scan import ScanSettings, neighbour_graph, partition_logits, scan_loss, train_partitioner

__all__ = [
    "LambdaSchedule",
    "Partitioner",
    "PlainMLP",
    "PretextSettings",
    "SNConv2d",
    "SNLinear",
    "ScanSettings",
    "build_partitioner",
    "guide",
    "guided_generator_loss",
    "lipschitz_layers",
    "neighbour_graph",
    "nt_xent",
    "operator_norm",
    "partition_logits",
    "pretext_features",
    "refresh_spectral_norms",
    "scan_loss",
    "train_partitioner",
    "train_pretext",
]
