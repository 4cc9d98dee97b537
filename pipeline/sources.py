"""The source code behind a stage, so that editing it reruns exactly that stage and what follows.

Snakemake tracks a rule's shell command, not the Python modules it imports. :func:`code_digest`
hashes a stage's own code: its entry module and every project module that module imports, directly
or through others (module-level and function-level imports), read as syntax trees with docstrings
left out, so that editing a comment or a docstring reruns nothing, while editing code reruns the
stage. The rule's ``params.code`` carries the digest: a change shows in ``snakemake -n`` as
"params changed" and in ``snakemake --list-changes params``.
"""
from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipeline", "extractors", "model")
# Plumbing shared by every stage that shapes no output by its code: the command line, the registry
# (whose sections are the params themselves), config validation (its values are in the params),
# error types, and these helpers. Editing them (e.g. registering a new stage) reruns nothing.
PLUMBING = frozenset({"pipeline.cli", "pipeline.stages", "pipeline.sources", "pipeline.workflow",
                      "pipeline.config", "pipeline.errors"})


@functools.lru_cache(maxsize=1)
def project_modules() -> dict[str, Path]:
    """``module name -> file`` of every module of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported_modules(module: str) -> set[str]:
    """The project modules ``module`` imports (anywhere in its code)."""
    modules = project_modules()
    imported = set()
    for node in ast.walk(_tree(modules[module])):
        if isinstance(node, ast.ImportFrom) and node.module:
            candidates = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        imported |= {name for name in candidates if name in modules and name != module}
    return imported


def module_closure(*roots: str) -> list[str]:
    """``roots`` (a package stands for its ``__main__``) and every project module they import,
    transitively, without the :data:`PLUMBING`; sorted."""
    modules = project_modules()
    seen: set[str] = set()
    todo = [root for name in roots for root in (name, f"{name}.__main__") if root in modules]
    while todo:
        module = todo.pop()
        if module not in seen and module not in PLUMBING:
            seen.add(module)
            todo.extend(imported_modules(module) - seen)
    return sorted(seen)


def _code_only(tree: ast.Module) -> str:
    """The syntax tree without docstrings (comments are not in the tree), as text."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


@functools.lru_cache(maxsize=None)
def code_digest(*roots: str) -> str:
    """Short sha256 of the code of ``roots`` and the project modules they import."""
    digest = hashlib.sha256()
    modules = project_modules()
    for module in module_closure(*roots):
        digest.update(module.encode())
        digest.update(_code_only(_tree(modules[module])).encode())
    return digest.hexdigest()[:16]
