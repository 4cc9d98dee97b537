"""Provenance recorded with every output: installed library versions and file hashes."""
from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path


def library_versions(packages: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of ``packages`` (read from their metadata, without importing them)."""
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    return sha256_files([path], chunk_size)


def sha256_files(paths, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 over the bytes of several files, in order."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(chunk_size), b""):
                digest.update(block)
    return digest.hexdigest()
