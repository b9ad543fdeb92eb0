"""What the origin's handlers share: settings, catalog, storage and helpers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from manifests.catalog import Catalog
from origin.assets import AssetCache
from origin.edge_notify import EdgeTargets
from origin.ingest import Ingest
from origin.metrics import Metrics
from origin.settings import Settings
from storage import Storage


@dataclass(frozen=True, slots=True)
class OriginContext:
    settings: Settings
    catalog: Catalog
    storage: Storage
    ingest: Ingest
    assets: AssetCache
    metrics: Metrics
    spool_dir: Path
    edges: EdgeTargets
