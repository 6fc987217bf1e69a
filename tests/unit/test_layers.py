"""The house stays as docs/architecture.md draws it: read every module's imports (its source, not a running
import) and fail on an import cycle or on an arrow that points up the layers."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ponton", "builder", "runtime", "gitreceive", "plugins")

# Lowest first; a module may import its own layer and those below. The first prefix that matches a module wins.
LAYERS = [
    ("core", ("ponton.core",)),
    ("engines", ("builder", "runtime", "plugins", "gitreceive.repo", "gitreceive.sshkeys")),
    ("features", ("ponton.features",)),
    ("pipeline", ("ponton.pipeline",)),
    # The faces: the CLI and its commands, the SSH entry and the git hook, and the web (API, dashboard, git over
    # HTTPS), which runs the commands.
    ("face", ("ponton.web", "ponton", "gitreceive")),
]
# Within the engines' layer, each package stands alone on the core: the builder never runs containers, the
# scheduler never builds, a plugin knows only the hook API.
SEPARATE = ("builder", "runtime", "plugins", "gitreceive")
# A plugin knows ponton as a third party's would: the core (the hook API, state, settings, errors, locks) and
# ponton.api, the one module of the face made for plugins (what their commands need: the decorators, access
# checks, quotas, the config change and its roll, the isolation of containers). Plugins may share modules among
# themselves (plugins/services). Nothing else: no feature, no pipeline, no other engine.
PLUGIN_IMPORTS = ("ponton.core", "ponton.api", "plugins")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


MODULES = modules()


def import_statements(name: str) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement in module `name` (ours or not), and whether it is at the top of the file."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), str(path))
    top = {id(node) for node in tree.body}
    return [(node, id(node) in top) for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


def imports(name: str) -> list[tuple[str, int, bool]]:
    """(module imported, line, at the top of the file) for each import of ours in module `name`."""
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node, at_top in import_statements(name):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name and target.split(".")[0] in PACKAGES:
                found.append((target, node.lineno, at_top))
    return found


def layer(name: str) -> int:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes):
            return index
    raise AssertionError(f"{name} is in no layer")


def test_every_arrow_points_down_the_layers():
    wrong = []
    for name in MODULES:
        for target, line, _ in imports(name):
            if name.split(".")[0] == "plugins":
                if not any(target == allowed or target.startswith(allowed + ".") for allowed in PLUGIN_IMPORTS):
                    wrong.append(f"{name}:{line} imports {target}: plugins import only {', '.join(PLUGIN_IMPORTS)}")
            elif layer(target) > layer(name):
                wrong.append(f"{name}:{line} ({LAYERS[layer(name)][0]}) imports {target} ({LAYERS[layer(target)][0]})")
            elif layer(name) == layer(target) == 1 and name.split(".")[0] != target.split(".")[0]:
                wrong.append(f"{name}:{line} imports {target}: {', '.join(SEPARATE)} import only the core")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    graph = {name: {target for target, _, _ in imports(name)} for name in MODULES}
    # A package's __init__ that only gathers its modules is not a cycle with them: leave out arrows into a package
    # from its own modules.
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    cycles, state = [], {}

    def visit(name, path):
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "\n".join(cycles)


def test_imports_inside_functions_say_why():
    """An import inside a function, of ours or of anyone's (docker, dulwich, cryptography, the standard library),
    is there for start-up time (a command that must not load what it rarely needs): a comment on its line, or on
    the line above, says so. Without a reason, it belongs at the top of the module."""
    silent = []
    for name, path in MODULES.items():
        lines = [""] + path.read_text().splitlines()
        for node, at_top in import_statements(name):
            line = node.lineno
            if not at_top and "#" not in lines[line] and not lines[line - 1].lstrip().startswith("#"):
                if isinstance(node, ast.ImportFrom):
                    what = "." * node.level + (node.module or "")
                else:
                    what = ", ".join(alias.name for alias in node.names)
                silent.append(f"{name}:{line} imports {what} inside a function, and no comment says why")
    assert not silent, "\n".join(silent)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_too_long_to_read(name):
    assert len(MODULES[name].read_text().splitlines()) <= 400
