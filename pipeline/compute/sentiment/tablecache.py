"""On-disk cache of the derived segmentation arrays.

Reading ``seg.marshal.3`` and packing it takes several seconds, paid again by
every worker process; the packed arrays load from ``.npz`` in well under a
second. The cache is keyed by the model file's size and mtime, written
atomically, and optional: ``PIPELINE_SENTIMENT_CACHE_DIR=""`` turns it off,
and any I/O failure just falls back to building in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from pipeline.compute.sentiment.segtables import SegTables, SparseCounts, build_tables
from pipeline.compute.sentiment.snowmodel import load_segmenter_raw, snownlp_dir

FORMAT_VERSION = 1
ENV_VAR = "PIPELINE_SENTIMENT_CACHE_DIR"


def cache_dir() -> Path | None:
    configured = os.environ.get(ENV_VAR)
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pipeline-sentiment"


def _cache_file(directory: Path) -> Path:
    model = snownlp_dir() / "seg" / "seg.marshal.3"
    stat = model.stat()
    tag = f"{FORMAT_VERSION}:{model}:{stat.st_size}:{stat.st_mtime_ns}"
    digest = hashlib.sha256(tag.encode()).hexdigest()[:16]
    return directory / f"segtables-{digest}.npz"


def _save(tables: SegTables, path: Path) -> None:
    arrays = {
        "scalars": np.array([tables.l1, tables.l2, tables.l3, tables.uni_total]),
        "n_ids": np.array(tables.n_ids),
        "char_id": tables.char_id,
        "uni": tables.uni,
    }
    for name in ("bi", "tri"):
        sparse: SparseCounts = getattr(tables, name)
        for field in ("keys", "ptr", "slot", "count"):
            arrays[f"{name}_{field}"] = getattr(sparse, field)
        arrays[f"{name}_width"] = np.array(sparse.width)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _load(path: Path) -> SegTables:
    with np.load(path) as z:
        l1, l2, l3, total = (float(x) for x in z["scalars"])

        def sparse(name: str) -> SparseCounts:
            return SparseCounts(
                z[f"{name}_keys"],
                z[f"{name}_ptr"],
                z[f"{name}_slot"],
                z[f"{name}_count"],
                int(z[f"{name}_width"]),
            )

        return SegTables(
            l1, l2, l3, total, int(z["n_ids"]), z["char_id"], z["uni"], sparse("bi"), sparse("tri")
        )


def load_tables() -> SegTables:
    """Packed segmentation tables, from the cache when it is valid."""
    directory = cache_dir()
    path = None
    if directory is not None:
        try:
            path = _cache_file(directory)
            if path.exists():
                return _load(path)
        except Exception:  # an unreadable or stale cache is simply rebuilt
            pass
    tables = build_tables(load_segmenter_raw())
    if path is not None:
        with contextlib.suppress(OSError):  # a read-only home just means no cache
            _save(tables, path)
    return tables
