"""The architecture's rules that import-linter cannot state: no import cycles, one reader of the clocks.

The layer contracts themselves live in ``.importlinter`` and run as ``lint-imports`` in .ci/run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"
CLOCK_READS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time"),
               ("time", "monotonic"), ("time", "perf_counter"), ("datetime", "today")}


def _cycles(deps: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in deps:
        if root in index:
            continue
        work = [(root, iter(sorted(deps[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(deps[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_two_module_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_no_module_of_the_package_imports_itself_back_through_others() -> None:
    graph = grimp.build_graph("monitor", exclude_type_checking_imports=True)
    deps = {m: {d for d in graph.find_modules_directly_imported_by(m) if d.startswith("monitor")}
            for m in graph.modules if m.startswith("monitor")}
    assert _cycles(deps) == []


def _clock_reads(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if (name, node.func.attr) in CLOCK_READS:
                found.append(f"{name}.{node.func.attr}() at line {node.lineno}")
    return found


def test_the_clock_read_finder_sees_datetime_now_and_time_monotonic() -> None:
    assert len(_clock_reads("import time\nfrom datetime import datetime\ndatetime.now()\ntime.monotonic()\n")) == 2


def test_only_clock_py_reads_the_wall_clock_or_the_monotonic_timer() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "clock.py" and path.parent == PACKAGE:
            continue
        reads = _clock_reads(path.read_text(encoding="utf-8"))
        if reads:
            offenders[str(path.relative_to(PACKAGE))] = reads
    assert offenders == {}
