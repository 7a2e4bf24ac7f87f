"""kubeplay uses the standard library and its dependencies through their public names only: no
underscore name of theirs is imported or read, none of their modules is patched, and nothing is
written into sys.modules. Each module's syntax tree is read; kubeplay's own underscore names are
its own business."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent.parent / "kubeplay"
OWN = "kubeplay"
# documented as the way a forked child ends without running its parent's clean-up a second time
ALLOWED = {("os", "_exit")}
SYS_MODULES_CHANGES = {"setdefault", "update", "pop", "popitem", "clear", "__setitem__", "__delitem__"}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _external(module: str) -> bool:
    top = module.split(".")[0]
    return top not in (OWN, "__future__")


class Checker(ast.NodeVisitor):
    """Collects every use of a foreign private name, every patch of a foreign module and every
    change of sys.modules in one module's tree."""

    def __init__(self) -> None:
        self.problems: list[tuple[int, str]] = []
        self.foreign: dict[str, str] = {}  # local name -> the foreign module (or module.name) it is bound to
        self.sys_modules_names: set[str] = set()  # local names bound to sys.modules itself

    def report(self, node: ast.AST, message: str) -> None:
        self.problems.append((node.lineno, message))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not _external(alias.name):
                continue
            if any(_private(part) for part in alias.name.split(".")):
                self.report(node, f"imports the private module {alias.name}")
            if alias.asname:
                self.foreign[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.foreign[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or not _external(module):
            return
        if any(_private(part) for part in module.split(".")):
            self.report(node, f"imports from the private module {module}")
        for alias in node.names:
            if _private(alias.name):
                self.report(node, f"imports the private name {alias.name} from {module}")
            if module == "sys" and alias.name == "modules":
                self.sys_modules_names.add(alias.asname or alias.name)
            self.foreign[alias.asname or alias.name] = f"{module}.{alias.name}"

    def _foreign_chain(self, node: ast.expr) -> tuple[str, list[str]] | None:
        """(foreign module, attribute names) of `module.a.b`, None for anything else."""
        names: list[str] = []
        while isinstance(node, ast.Attribute):
            names.insert(0, node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in self.foreign:
            return self.foreign[node.id], names
        return None

    def _is_sys_modules(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.sys_modules_names
        chain = self._foreign_chain(node)
        return chain is not None and chain == ("sys", ["modules"])

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain = self._foreign_chain(node)
        if chain is not None:
            module, names = chain
            for name in names:
                if _private(name) and (module.split(".")[-1], name) not in ALLOWED:
                    self.report(node, f"reads the private name {module}.{'.'.join(names)}")
                    break
        else:
            self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        if isinstance(function, ast.Name) and function.id in ("getattr", "setattr", "delattr") and len(node.args) >= 2:
            target, name = node.args[0], node.args[1]
            if (isinstance(name, ast.Constant) and isinstance(name.value, str) and _private(name.value)
                    and self._foreign_chain(target) is not None):
                self.report(node, f"{function.id} of the private name {name.value}")
            if function.id != "getattr" and self._foreign_chain(target) is not None:
                self.report(node, f"{function.id} on a module of the standard library or a dependency")
        if isinstance(function, ast.Attribute) and function.attr in SYS_MODULES_CHANGES \
                and self._is_sys_modules(function.value):
            self.report(node, f"changes sys.modules ({function.attr})")
        self.generic_visit(node)

    def _check_target(self, target: ast.expr, verb: str) -> None:
        if isinstance(target, ast.Subscript) and self._is_sys_modules(target.value):
            self.report(target, f"{verb} an entry of sys.modules")
        elif self._is_sys_modules(target):
            self.report(target, f"{verb} sys.modules")
        elif isinstance(target, ast.Attribute) and self._foreign_chain(target) is not None:
            module, names = self._foreign_chain(target)  # type: ignore[misc]
            self.report(target, f"{verb} {module}.{'.'.join(names)} (patches a foreign module)")
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._check_target(element, verb)

    def _looks_up_a_module(self, function: ast.expr) -> bool:
        """`sys.modules.get`, `importlib.import_module`, `import_module` or `__import__`."""
        if isinstance(function, ast.Attribute):
            return function.attr == "import_module" or (function.attr == "get" and self._is_sys_modules(function.value))
        return isinstance(function, ast.Name) and function.id in ("import_module", "__import__")

    def _looked_up_module(self, value: ast.expr) -> str | None:
        """The foreign module that `sys.modules[...]`, `sys.modules.get(...)`, `import_module(...)`
        or `__import__(...)` gives, when it names one."""
        key: ast.expr | None = None
        if isinstance(value, ast.Subscript) and self._is_sys_modules(value.value):
            key = value.slice
        elif isinstance(value, ast.Call) and value.args and self._looks_up_a_module(value.func):
            key = value.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and _external(key.value):
            return key.value
        return None

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_target(target, "assigns")
        looked_up = self._looked_up_module(node.value)
        if self._is_sys_modules(node.value) or looked_up is not None:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    if looked_up is None:
                        self.sys_modules_names.add(target.id)
                    else:
                        self.foreign[target.id] = looked_up
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        looked_up = self._looked_up_module(node.value)
        if looked_up is not None:
            self.foreign[node.target.id] = looked_up
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_target(node.target, "assigns")
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._check_target(node.target, "assigns")
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._check_target(target, "deletes")
        self.generic_visit(node)


def problems_in(source: str) -> list[tuple[int, str]]:
    checker = Checker()
    checker.visit(ast.parse(source))
    return checker.problems


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE.parent)))
def test_module_uses_only_public_names_of_others(path: Path) -> None:
    found = problems_in(path.read_text(encoding="utf-8"))
    assert not found, "\n".join(f"{path.relative_to(PACKAGE.parent)}:{line}: {message}" for line, message in found)


def test_every_module_is_read() -> None:
    assert len(MODULES) > 100 and PACKAGE / "cli" / "main.py" in MODULES


@pytest.mark.parametrize("source", [
    "from dataclasses import _FIELD",
    "import _sqlite3",
    "import _thread as threads",
    "from _thread import RLock",
    "import threading\nthreading._shutdown()",
    "import atexit\natexit._run_exitfuncs()",
    "import dataclasses\nx = dataclasses._FIELD",
    "import dataclasses\ndataclasses._process_class = print",
    "import dataclasses\nsetattr(dataclasses, 'dataclass', print)",
    "import pyroute2.netlink as nl\nnl._private",
    "from click import core\ncore._main_shell_completion",
    "import yaml\ngetattr(yaml, '_hidden')",
    "import sys\nsys.modules['pyroute2'] = object()",
    "import sys\nsys.modules.setdefault('x', None)",
    "import sys\nsys.modules.update({})",
    "import sys\nsys.modules.pop('x')",
    "import sys\ndel sys.modules['x']",
    "from sys import modules\nmodules['x'] = None",
    "import sys as system\nsystem.modules['x'] = None",
    "import sys\nmodules = sys.modules\nmodules['x'] = None",
    "import sys\nthreading = sys.modules.get('threading')\nthreading._shutdown()",
    "import sys\ndataclasses = sys.modules['dataclasses']\nprint(dataclasses._FIELD)",
    "import importlib\nlib = importlib.import_module('pyroute2')\nlib._x",
])
def test_the_check_finds_private_names_patches_and_sys_modules_changes(source: str) -> None:
    assert problems_in(source)


@pytest.mark.parametrize("source", [
    "from kubeplay.net.netns import _on_own_thread",
    "from . import _helper",
    "import kubeplay.cli.main as m\nm._say('x')",
    "from __future__ import annotations",
    "import os\nos._exit(1)",
    "import os\nos.path.join('a', 'b')",
    "import sys\nsys.modules.get('click')",
    "import sys\nname = sys.modules['__main__'].__name__",
    "class A:\n    def f(self):\n        self._x = 1\n        return self._x",
    "import os\nenv = os.environ\nenv['X'] = '1'",
])
def test_the_check_lets_public_and_own_names_pass(source: str) -> None:
    assert problems_in(source) == []
