"""Datasets: scikit-learn's bundled ones, and CSV files fetched once into a local cache.

A downloaded file's SHA-256 is recorded in `SHA256SUMS` in the cache folder on first download
and checked on every later load. Offline and uncached, loading raises DataUnavailable, which
the runner turns into a one-line "skipped" message.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import DataUnavailable, HarnessError
from .experiment import Dataset

DATA_DIR_ENV = "HARNESS_DATA_DIR"
CHECKSUMS = "SHA256SUMS"


def default_data_dir() -> Path:
    """$HARNESS_DATA_DIR, else ~/.cache/regbench."""
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "regbench")


def sklearn_dataset(name: str) -> Dataset:
    """One of scikit-learn's bundled datasets (no network): wine, breast_cancer, diabetes, iris."""
    from sklearn import datasets

    loaders = {
        "wine": ("classification", datasets.load_wine),
        "breast_cancer": ("classification", datasets.load_breast_cancer),
        "iris": ("classification", datasets.load_iris),
        "diabetes": ("regression", datasets.load_diabetes),
    }
    if name not in loaders:
        raise HarnessError(f"unknown scikit-learn dataset {name!r}; choose from {sorted(loaders)}")
    task, loader = loaders[name]
    bunch = loader(as_frame=True)
    return Dataset(name, bunch.data, bunch.target.rename("target"), task)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _recorded_checksums(data_dir: Path) -> dict[str, str]:
    path = data_dir / CHECKSUMS
    if not path.exists():
        return {}
    pairs = (line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip())
    return {name.strip(): digest for digest, name in pairs}


def _record_checksum(data_dir: Path, filename: str, digest: str) -> None:
    with open(data_dir / CHECKSUMS, "a") as handle:
        handle.write(f"{digest}  {filename}\n")


def cached_file(url: str, data_dir: Path, filename: str | None = None, timeout: float = 20.0) -> Path:
    """The local copy of `url` in `data_dir`, downloaded on first use; its SHA-256 is checked."""
    data_dir = Path(data_dir)
    filename = filename or url.rstrip("/").rsplit("/", 1)[-1]
    path = data_dir / filename
    recorded = _recorded_checksums(data_dir)
    if not path.exists():
        _download(url, path, timeout)
    digest = sha256_of(path)
    if filename not in recorded:
        _record_checksum(data_dir, filename, digest)
    elif recorded[filename] != digest:
        raise HarnessError(
            f"{path} has SHA-256 {digest[:12]}…, not the {recorded[filename][:12]}… recorded in "
            f"{data_dir / CHECKSUMS}; delete the file to download it again"
        )
    return path


def _download(url: str, path: Path, timeout: float) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataUnavailable(f"cannot create the data cache {path.parent}: {exc}") from None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
                shutil.copyfileobj(response, tmp)
        os.replace(tmp.name, path)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataUnavailable(
            f"{path.name} is not cached in {path.parent} and {url} cannot be reached ({reason}); "
            f"put a copy there, or point --data-dir / ${DATA_DIR_ENV} at a folder holding it"
        ) from None


def cached_csv(url: str, data_dir: Path, filename: str | None = None, **read_csv: Any) -> pd.DataFrame:
    """`pandas.read_csv` of the cached copy of `url`."""
    return pd.read_csv(cached_file(url, data_dir, filename), **read_csv)
