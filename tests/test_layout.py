"""The layout holds: every import runs the allowed way between the project's rooms, no module
imports another in a circle (nor hides one with an import inside a function), modules stay
small, and no file speaks of the development process instead of the product."""

from __future__ import annotations

import ast
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("manifests", "storage", "httprules", "transcoder", "origin", "edge", "sample_media")
SHELL = "mediacdn"
GROUND = frozenset({"manifests", "storage", "httprules"})
EDGE_ROOMS = ("edge.pop", "edge.eviction", "edge.router", "edge.player", "edge.sim", "edge.wire")

# Each room and the rooms it may import (besides itself). `edge.wire` holds the records that
# cross the wire between POPs, the router and players.
ALLOWED: dict[str, frozenset[str]] = {
    "manifests": frozenset(),
    "storage": frozenset(),
    "httprules": frozenset(),
    "transcoder": GROUND,
    "origin": GROUND | {"transcoder"},
    "edge.eviction": frozenset(),
    "edge.wire": frozenset(),
    "edge.pop": GROUND | {"edge.eviction", "edge.wire"},
    "edge.router": GROUND | {"edge.wire"},
    "edge.player": GROUND | {"edge.wire"},
    "edge.sim": frozenset({"manifests", *EDGE_ROOMS}),
    "edge": frozenset(),  # edge/__init__.py
    "sample_media": GROUND | {"transcoder"},
    SHELL: frozenset({*PACKAGES, *EDGE_ROOMS}),
}
MAX_LINES = 500
PROCESS_TALK = re.compile(
    r"\b(issues? ?#?\d+|\(issue \d+\)|goals? \(issue|"
    r"(first|second|third|fourth|fifth|this|last|previous|next) session|sessions? \d)\b",
    re.IGNORECASE,
)


def modules() -> Iterator[tuple[str, Path]]:
    for package in (*PACKAGES, SHELL):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


def room(module: str) -> str | None:
    """The room a module belongs to: a top-level package, or `edge.<part>`."""
    parts = module.split(".")
    if parts[0] not in (*PACKAGES, SHELL):
        return None
    if parts[0] == "edge" and len(parts) > 1:
        return f"edge.{parts[1]}"
    return parts[0]


def imports(path: Path) -> Iterator[tuple[str, int, bool]]:
    """(module imported, line, whether the import sits inside a function or class body)."""
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) not in top_level
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno, id(node) not in top_level


def project_imports() -> Iterator[tuple[str, Path, str, int, bool]]:
    for name, path in modules():
        for target, line, nested in imports(path):
            if room(target) is not None:
                yield name, path, target, line, nested


def test_every_import_runs_an_allowed_way() -> None:
    wrong = []
    for name, path, target, line, _ in project_imports():
        src, dst = room(name), room(target)
        assert src is not None
        assert dst is not None
        if src != dst and dst not in ALLOWED[src]:
            wrong.append(f"{path.relative_to(ROOT)}:{line}: {src} imports {dst}")
    assert not wrong, "\n".join(wrong)


def test_no_package_imports_the_app_shell() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line}"
        for name, path, target, line, _ in project_imports()
        if room(target) == SHELL and room(name) != SHELL
    ]
    assert not wrong, wrong


def test_no_imports_inside_functions_outside_the_cli_commands() -> None:
    """Only the CLI's commands defer loading what they run (for start-up time); elsewhere an
    import inside a function would be a way to hide a circle."""
    nested = [
        f"{path.relative_to(ROOT)}:{line}: {target}"
        for name, path, target, line, inside in project_imports()
        if inside and name != "mediacdn.commands"
    ]
    assert not nested, "\n".join(nested)


def test_no_module_imports_in_a_circle() -> None:
    known = dict(modules())
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, _, target, _, inside in project_imports():
        # `from pkg import mod` names the module itself when it exists.
        if not inside:
            graph[name].add(target if target in known else target.rsplit(".", 1)[0])
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done

    def walk(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt == node or nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := walk(nxt, [*path, nxt])):
                return found
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := walk(name, [name])):
            pytest.fail("import circle: " + " -> ".join(cycle))


def test_modules_stay_small() -> None:
    long = [
        f"{path.relative_to(ROOT)}: {n} lines"
        for _, path in modules()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert not long, long


def test_no_file_speaks_of_the_development_process() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    texts = [
        ROOT / f
        for f in tracked
        if Path(f).suffix in {".py", ".md", ".toml", ".js", ".html", ".txt", ".css"}
        or f in ("Makefile", ".ci/run")
    ]
    talk = [
        f"{path.relative_to(ROOT)}:{i}: {line.strip()[:80]}"
        for path in texts
        if path.is_file()
        for i, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if PROCESS_TALK.search(line)
    ]
    assert not talk, "\n".join(talk)


def test_the_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    """The checks themselves: a module with a wrong-way import and a nested one is seen."""
    bad = tmp_path / "bad.py"
    bad.write_text("from origin.app import create_app\n\ndef f() -> None:\n    import edge.wire\n")
    found = list(imports(bad))
    assert ("origin.app", 1, False) in found
    assert ("edge.wire", 4, True) in found
    assert room("origin.app") not in ALLOWED["transcoder"]
    assert room("edge.pop.app") == "edge.pop"
    assert room("edge.pop.app") not in ALLOWED["edge.router"]
    assert PROCESS_TALK.search("Goal (" + "issue" + " 4): fast")  # split: this file passes
    assert not PROCESS_TALK.search("the upload session resumes")
