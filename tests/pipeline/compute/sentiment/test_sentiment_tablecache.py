"""The on-disk cache of segmentation tables round-trips exactly."""

from __future__ import annotations

import numpy as np

from pipeline.compute.sentiment import tablecache


def test_round_trip_is_exact(tmp_path, compat_scorer) -> None:
    tables = compat_scorer.tables
    path = tmp_path / "tables.npz"
    tablecache._save(tables, path)
    loaded = tablecache._load(path)
    for name in ("l1", "l2", "l3", "uni_total", "n_ids"):
        assert getattr(loaded, name) == getattr(tables, name)
    assert np.array_equal(loaded.char_id, tables.char_id)
    assert np.array_equal(loaded.uni, tables.uni)
    for sparse in ("bi", "tri"):
        a, b = getattr(loaded, sparse), getattr(tables, sparse)
        assert a.width == b.width
        for field in ("keys", "ptr", "slot", "count"):
            assert np.array_equal(getattr(a, field), getattr(b, field))


def test_cache_location_follows_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(tablecache.ENV_VAR, "")
    assert tablecache.cache_dir() is None
    monkeypatch.setenv(tablecache.ENV_VAR, str(tmp_path))
    assert tablecache.cache_dir() == tmp_path


def test_unreadable_cache_file_is_rebuilt_not_fatal(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(tablecache.ENV_VAR, str(tmp_path))
    path = tablecache._cache_file(tmp_path)
    path.write_bytes(b"not an npz")
    built = []
    monkeypatch.setattr(tablecache, "build_tables", lambda raw: built.append(1) or "tables")
    monkeypatch.setattr(tablecache, "load_segmenter_raw", lambda: {})
    monkeypatch.setattr(tablecache, "_save", lambda tables, p: None)
    assert tablecache.load_tables() == "tables"
    assert built == [1]
