"""gancluster: clustering with GANs whose clusters are faithful to the data's.

Public API::

    from gancluster import ClusterGAN, NEMGAN, GMGAN, PGMGAN, load
    model = ClusterGAN(n_clusters=10, max_seconds=300).fit(X)
    labels = model.predict(X)
    images, clusters = model.sample(64, cluster=3)
"""

from __future__ import annotations

from ._version import __version__
from .clustergan import ClusterGAN
from .gmgan import GMGAN
from .nemgan import NEMGAN
from .pgmgan import PGMGAN
from .errors import CheckpointError, ConfigError, DataNotFoundError, GanclusterError
from .estimator import load

__all__ = [
    "CheckpointError",
    "ClusterGAN",
    "ConfigError",
    "DataNotFoundError",
    "GMGAN",
    "GanclusterError",
    "NEMGAN",
    "PGMGAN",
    "__version__",
    "load",
]
