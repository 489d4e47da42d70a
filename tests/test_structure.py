"""The shape of the code: no import cycles, no private names reached across modules.

Read from the source with :mod:`ast` (nothing is imported), over every module of ``vizapp/``
and ``components/``:

* **No import cycle.** An edge A → B for every ``import``/``from … import`` of a project module
  anywhere in A, *including imports inside functions* (a lazy import only postpones a cycle; it
  still means neither module can be understood, tested or moved without the other). Importing
  ``pkg.mod`` also runs ``pkg/__init__.py``; that implicit edge to a module's own parent package
  is not counted (every submodule would otherwise form a cycle with an ``__init__`` that
  re-exports it), but an explicit ``from . import name`` of the package's own names is.
  Imports by computed name (``importlib.import_module``: the CLI's sub-commands, the zoo's
  catalog of self-registering families, the app's pages) are not seen.
* **No private name across modules.** ``from M import _name``, ``module._name`` on an imported
  project module, and ``obj._method(…)`` where ``_method`` is defined in another project module
  and not in the calling one: a name that another module needs is part of an interface and says
  so by being public. Names like ``_repr_html_`` (protocol hooks called by a library) and dunders
  are not private in this sense.
"""

from __future__ import annotations

import ast
import collections
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("vizapp", "components")

# (importing-module pattern, imported module, name): why it is allowed
ALLOWED_PRIVATE = {
    ("*", "vizapp.i18n", "_"):
        "gettext's conventional name for 'translate this': a marker the extractor looks for, "
        "not a private helper",
}


def module_files() -> dict[str, Path]:
    files = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join(parts)] = path
    return files


MODULES = module_files()
TREES = {m: ast.parse(p.read_text(encoding="utf-8"), str(p)) for m, p in MODULES.items()}


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("_") and name != "_" * len(name)


def resolve_from(module: str, node: ast.ImportFrom) -> str:
    """The absolute module name a ``from … import`` reads from."""
    if not node.level:
        return node.module or ""
    is_pkg = MODULES[module].name == "__init__.py"
    base = module.split(".")
    base = base[:len(base) - node.level + (1 if is_pkg else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str):
    """Yield (node, imported project module, name or None, local binding) of every import."""
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.ImportFrom):
            target = resolve_from(module, node)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:  # from pkg import submodule
                    yield node, sub, None, alias.asname or alias.name
                elif target in MODULES:
                    yield node, target, alias.name, alias.asname or alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    # ``import a.b as m`` binds m to a.b; ``import a.b`` binds a, whose
                    # import is the implicit parent-package one (not counted)
                    yield node, alias.name, None, alias.asname


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = collections.defaultdict(set)
    for m in MODULES:
        for _node, target, _name, _bound in imports(m):
            if target != m:  # an explicit import of the module's own package counts
                edges[m].add(target)
    return edges


def cycles(edges: dict[str, set[str]], nodes=None) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    edges = collections.defaultdict(set, edges)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in (MODULES if nodes is None else nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def cycle_path(edges: dict[str, set[str]], comp: list[str]) -> list[str]:
    """One concrete loop through the component's first module, for the failure message."""
    start, members = comp[0], set(comp)
    prev = {start: None}
    queue = collections.deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(edges[v] & members):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return comp


def defined_names(module: str) -> set[str]:
    """Every function, method, class and assigned name defined anywhere in ``module``."""
    names = set()
    for node in ast.walk(TREES[module]):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


DEFINED = {m: defined_names(m) for m in MODULES}
PRIVATE_FUNCS = {m: {n.name for n in ast.walk(TREES[m])
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and is_private(n.name)} for m in MODULES}


def allowed(module: str, target: str, name: str) -> bool:
    return (module, target, name) in ALLOWED_PRIVATE or ("*", target, name) in ALLOWED_PRIVATE


def private_uses() -> list[str]:
    found = []
    for m in MODULES:
        here = f"{MODULES[m].relative_to(ROOT)}"
        module_aliases = {}
        for node, target, name, bound in imports(m):
            if target == m:
                continue
            if name is None:
                if bound:
                    module_aliases[bound] = target
                if is_private(target.rsplit(".", 1)[-1]) and not allowed(m, target, ""):
                    found.append(f"{here}:{node.lineno} imports private module {target}")
            elif is_private(name) and not allowed(m, target, name):
                found.append(f"{here}:{node.lineno} imports {target}.{name}")
        for node in ast.walk(TREES[m]):
            if not isinstance(node, ast.Attribute) or not is_private(node.attr):
                continue
            value = node.value
            if isinstance(value, ast.Name) and value.id in module_aliases:
                target = module_aliases[value.id]
                if not allowed(m, target, node.attr):
                    found.append(f"{here}:{node.lineno} uses {target}.{node.attr}")
        for node in ast.walk(TREES[m]):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            attr = node.func.attr
            if not is_private(attr) or attr in DEFINED[m]:
                continue
            if isinstance(node.func.value, ast.Name) and node.func.value.id in module_aliases:
                continue  # reported above as module._name
            owners = sorted(o for o in MODULES if o != m and attr in PRIVATE_FUNCS[o])
            if owners:
                found.append(f"{here}:{node.lineno} calls .{attr}() defined in "
                             f"{', '.join(owners)}")
    return found


def test_the_scan_sees_the_project() -> None:
    """Guards the guard: modules found, relative imports resolved, imports inside functions
    in the graph, a loop found where there is one (a silently empty graph would pass)."""
    assert {"vizapp", "vizapp.zoo.base", "vizapp.i18n", "components.sidebar"} <= set(MODULES)
    edges = graph()
    assert "vizapp.zoo.registry" in edges["vizapp.zoo"]  # from .registry import …
    assert "vizapp.i18n" in edges["vizapp.zoo.base"]  # from vizapp.i18n import …
    inside = {(m, t) for m in MODULES for fn in ast.walk(TREES[m])
              if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node, t, _name, _bound in imports(m)
              if fn.lineno <= node.lineno <= fn.end_lineno and t != m}
    assert inside and all(t in edges[m] for m, t in inside)
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, "abcd") == [["a", "b", "c"]]


def test_no_import_cycles() -> None:
    edges = graph()
    found = cycles(edges)
    assert not found, "import cycles (imports inside functions count):\n" + "\n".join(
        f"  {' → '.join(cycle_path(edges, comp))}   (component: {', '.join(comp)})"
        for comp in found)


def test_no_private_names_across_modules() -> None:
    found = private_uses()
    assert not found, ("private names used across modules (make them public where they are "
                       "shared):\n  " + "\n  ".join(found))


def test_the_allow_list_is_current_and_explained() -> None:
    for key, why in ALLOWED_PRIVATE.items():
        assert why.strip(), key
        _m, target, name = key
        assert target in MODULES and name in DEFINED[target], f"stale allow-list entry {key}"
