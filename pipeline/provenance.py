"""Provenance recorded with every output: installed library versions (read without importing)."""
from __future__ import annotations

from importlib import metadata


def library_versions(packages: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of ``packages`` (without importing them)."""
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions
