"""The package's layers point one way (docs/development.md, "Layers").

Each package may import only the packages listed for it below; module-level imports form no
cycle; and imports sit at the top of the file, except the few listed with their reason.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hugectr_tf"

# package -> the hugectr_tf packages it may import (besides itself). Bottom first.
ALLOWED = {
    "config": set(),
    "ops": {"config"},
    "embedding": {"config", "ops"},
    "data": {"config", "ops"},
    "ps": {"config", "ops", "embedding", "data"},
    "distributed": {"config", "ops", "embedding"},
    "keras": {"config", "ops", "embedding", "distributed", "ps"},
    "api": {"config", "ops", "embedding", "data", "keras", "distributed", "ps"},
    "inference": {"config", "ops", "embedding", "data", "keras", "ps", "api"},
    "tools": {"config", "data", "api"},
    "examples": {"config", "data", "keras", "api", "inference", "tools"},
}
# Imports inside functions that stay there, with the reason.
FUNCTION_IMPORTS = {
    # KERAS_BACKEND must be checked before keras is imported: keras fixes its backend at import.
    ("_environment.py", "keras"): "backend check first",
    ("_environment.py", "tensorflow"): "backend check first",
    # `hugectr-tf --help` answers without importing TensorFlow.
    ("tools/cli.py", "hugectr_tf.tools.generator"): "fast --help",
    ("tools/cli.py", "hugectr_tf.tools.criteo"): "fast --help",
    ("tools/cli.py", "hugectr_tf.tools.keyset"): "fast --help",
}
# Optional third-party dependencies may be imported where they are used.
OPTIONAL = {"sklearn", "matplotlib", "tensorboard", "torch", "pandas"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        name = "hugectr_tf." + rel[:-3].replace("/", ".").removesuffix(".__init__")
        yield rel, name.removesuffix(".__init__"), ast.parse(path.read_text(), rel)


def _imports(tree, module_name):
    """(imported module, lineno, at module level) of every import in `tree`."""
    top = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                parts = module_name.split(".")[: -node.level]
                base = ".".join(parts + ([base] if base else []))
            out.append((base, node.lineno, id(node) in top))
    return out


def _package(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


MODULES = list(_modules())


@pytest.mark.parametrize("rel,name,tree", MODULES, ids=[m[0] for m in MODULES])
def test_imports_point_down(rel, name, tree):
    own = _package(name)
    if own not in ALLOWED:
        return  # hugectr_tf/__init__.py and _environment.py sit above everything
    for target, line, _ in _imports(tree, name):
        if not target.startswith("hugectr_tf."):
            continue
        other = _package(target)
        assert other == own or other in ALLOWED[own], (
            f"{rel}:{line} imports {target}: package `{own}` may import only "
            f"{sorted(ALLOWED[own]) or 'nothing'} of hugectr_tf"
        )


@pytest.mark.parametrize("rel,name,tree", MODULES, ids=[m[0] for m in MODULES])
def test_imports_are_at_the_top(rel, name, tree):
    for target, line, at_top in _imports(tree, name):
        if at_top or (rel, target) in FUNCTION_IMPORTS or target.split(".")[0] in OPTIONAL:
            continue
        pytest.fail(f"{rel}:{line} imports {target} inside a function or block")


def test_every_package_is_placed():
    packages = {_package(name) for _, name, _ in MODULES} - {"", "_environment"}
    assert packages <= set(ALLOWED), f"place new packages in ALLOWED: {packages - set(ALLOWED)}"


def test_no_import_cycles():
    names = {name for _, name, _ in MODULES}
    graph = {}
    for _, name, tree in MODULES:
        deps = set()
        for target, _, at_top in _imports(tree, name):
            if not at_top:
                continue
            # `from pkg import mod` imports pkg (and maybe pkg.mod): count the longest module.
            while target and target not in names:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                deps.add(target)
        graph[name] = deps
    state = {}

    def visit(node, path):
        state[node] = "open"
        for dep in graph.get(node, ()):
            if state.get(dep) == "open":
                cycle = path[path.index(dep) :] + [dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, path + [dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
