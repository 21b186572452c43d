"""The layering of docs/architecture.md, checked on the source: dependencies point down only.

    config                      wires everything (settings, urls, asgi, celery)
    webhooks                    signed events for the shop's systems (hears the others' signals)
    widget   agents             the customer's channel; the human side (a plug-in)
    orders   knowledge          the shop (its core knows no runtime; orders.assistant plugs into it);
                                files, vector stores and file_search (a plug-in)
             sandbox            code_interpreter: sessions in bubblewrap (a plug-in, above knowledge)
    runtime                     the assistant runtime: blind to the shop, the agents and the transports
    accounts   offline_model    API keys; the built-in model
    common                      the ground floor: imports nothing of the project

An upward import fails here with the file and line, and so does a cycle between modules or an
import inside a function (other than an app's ready(), where Django apps register on import, and
the heavy file readers the extraction worker loads only for their own files: LOADED_ON_USE).
"""

from __future__ import annotations

import ast
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
# Who may import whom, package by package (a package may always import itself).
ALLOWED = {
    "common": set(),
    "accounts": {"common"},
    "offline_model": {"common"},
    "runtime": {"common", "accounts", "offline_model"},
    "orders": {"common", "accounts", "runtime"},
    "knowledge": {"common", "accounts", "runtime"},
    "sandbox": {"common", "accounts", "runtime", "knowledge"},
    "agents": {"common", "orders", "runtime", "knowledge", "sandbox"},
    "widget": {"common", "orders", "runtime", "knowledge"},
    "webhooks": {"common", "accounts", "runtime", "orders", "agents"},
    # ops: the probes and metrics read the runtime; retention deletes conversations with the
    # agents' records on them and the knowledge files they hold.
    "ops": {"common", "runtime", "knowledge", "agents"},
    "config": {
        "common",
        "accounts",
        "offline_model",
        "runtime",
        "orders",
        "knowledge",
        "sandbox",
        "agents",
        "widget",
        "webhooks",
        "ops",
    },
}
# Imports inside a function that are allowed: knowledge.extract_worker starts afresh for every
# file, and importing pypdf and python-docx would cost a Markdown page more than reading it.
LOADED_ON_USE = {("knowledge.formats", "knowledge.pdf_text"), ("knowledge.formats", "knowledge.docx_text")}
# The shop's core knows nothing of the runtime: only the modules that plug the shop into it do.
SHOP_PLUG_INS = ("orders.assistant", "orders.management")


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def first_party_sources() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in ALLOWED
        for path in (PROJECT / package).rglob("*.py")
        if "migrations" not in path.parts
    }


SOURCES = first_party_sources()


def parse(path: Path) -> ast.Module:
    """`path`'s syntax tree, parsed again when CPython 3.11 wrongly refuses it.

    3.11's AST builder shares one recursion counter between threads (CPython gh-106905): when a
    live server's thread formats a traceback (which parses its lines) at the same moment, a valid
    file raises "AST constructor recursion depth mismatch" (CI's run of 2026-12-08).
    """
    source = path.read_text(encoding="utf-8")
    for _ in range(2):
        try:
            return ast.parse(source, str(path))
        except SystemError:
            continue
    return ast.parse(source, str(path))


def imports(path: Path) -> list[tuple[str, int, str | None]]:
    """(imported module, line, enclosing function or None) of every first-party import in `path`."""
    tree = parse(path)
    enclosing: dict[int, str] = {}
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                enclosing.setdefault(id(node), function.name)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from package import module` imports the module; `from module import name`, the module.
            names = [
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in SOURCES else node.module
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            if name.split(".")[0] in ALLOWED:
                found.append((name, node.lineno, enclosing.get(id(node))))
    return found


def test_every_import_points_down_the_layers():
    upward = []
    for module, path in SOURCES.items():
        package = module.split(".")[0]
        for name, line, _ in imports(path):
            target = name.split(".")[0]
            if target != package and target not in ALLOWED[package]:
                upward.append(f"{path.relative_to(PROJECT)}:{line} {package} imports {name}")
    assert upward == []


def test_the_shops_core_knows_nothing_of_the_runtime():
    found = [
        f"{path.relative_to(PROJECT)}:{line} imports {name}"
        for module, path in SOURCES.items()
        if module.startswith("orders") and not module.startswith(SHOP_PLUG_INS)
        for name, line, _ in imports(path)
        if name.startswith("runtime")
    ]
    assert found == []


def test_no_import_hides_inside_a_function_except_an_apps_ready():
    hidden = [
        f"{path.relative_to(PROJECT)}:{line} imports {name} inside {function}()"
        for module, path in SOURCES.items()
        for name, line, function in imports(path)
        if function is not None
        and not (path.name == "apps.py" and function == "ready")
        and (module, name) not in LOADED_ON_USE
    ]
    assert hidden == []


def test_no_two_modules_import_each_other_even_through_others():
    graph = {
        module: {name for name, _, function in imports(path) if function is None and name in SOURCES}
        for module, path in SOURCES.items()
    }
    # A package's own __init__ imports what it re-exports; its submodules importing their siblings
    # through it would be a cycle, which the walk below finds like any other.
    cycles, state = [], {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append(" → ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_layers_are_checked_on_every_package():
    packages = {path.parent.name for path in PROJECT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages == set(ALLOWED)
