"""Dataclass methods come from the compiled cache on later starts, behave exactly as freshly compiled
ones, and a bad, foreign or unwritable cache only means compiling as before."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

# Classes of every shape kubeplay uses; prints how many methods were compiled and how they behave.
SCRIPT = textwrap.dedent("""
    from __future__ import annotations  # as in every kubeplay module: what recipes are kept for
    import dataclasses, json, sys
    from kubeplay.dataclass_cache import install
    cache = install(sys.argv[1])
    from dataclasses import dataclass, field, FrozenInstanceError

    @dataclass(frozen=True)
    class Frozen:
        '''Frozen, with a factory.'''
        name: str
        ports: tuple = ()
        labels: dict = field(default_factory=dict, compare=False)

    @dataclass
    class Plain:
        '''Mutable, with __post_init__.'''
        count: int
        extra: list = field(default_factory=list)
        seen: bool = field(default=False, init=False)

        def __post_init__(self):
            self.seen = True

    @dataclass(frozen=True, kw_only=True, slots=True)
    class KeywordsOnly:
        a: int
        b: str = "b"

    one, same = Frozen("x", (1,), {"k": "v"}), Frozen("x", (1,))
    try:
        one.name = "y"
        frozen = False
    except FrozenInstanceError:
        frozen = True
    plain = Plain(3)
    print(json.dumps({
        "compiled": cache.compiled, "replayed": cache.replayed, "equal": one == same, "hashes": hash(one) == hash(same), "repr": repr(one),
        "frozen": frozen, "post_init": plain.seen, "plain": repr(plain), "kw": repr(KeywordsOnly(a=1)),
        "init_annotations": sorted(Frozen.__init__.__annotations__),
    }))
""")


def _run(cache: Path, **env: str) -> dict:
    environment = {**os.environ, **env}
    if "PYTHONDONTWRITEBYTECODE" not in env:
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(cache)], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env=environment)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _behaviour(result: dict) -> dict:
    return {key: value for key, value in result.items() if key not in ("compiled", "replayed")}


def _main_file(cache: Path) -> Path:
    """The file holding the methods of the classes SCRIPT defines (module __main__)."""
    return cache / f"__main__.{sys.implementation.cache_tag}.marshal"


def test_a_second_start_compiles_nothing_and_the_classes_behave_the_same(tmp_path):
    cache = tmp_path / "pycache" / "methods"
    first = _run(cache)
    assert first["compiled"] >= 10 and _main_file(cache).is_file()
    second = _run(cache)
    assert second["compiled"] == 0
    assert (first["replayed"], second["replayed"]) == (0, 2)  # Frozen and Plain; kw_only/slots go through dataclasses
    assert _behaviour(second) == _behaviour(first)
    assert first["equal"] and first["hashes"] and first["frozen"] and first["post_init"]
    assert first["repr"] == "Frozen(name='x', ports=(1,), labels={'k': 'v'})"
    assert first["kw"] == "KeywordsOnly(a=1, b='b')"
    assert first["init_annotations"] == ["labels", "name", "ports", "return"]


def test_each_module_has_its_own_file_holding_only_what_its_import_used(tmp_path):
    cache = tmp_path / "methods"
    stale = _main_file(cache)
    cache.mkdir()
    stale.write_bytes(marshal.dumps({"def gone(): pass": compile("pass", "<string>", "exec"),
                                     "\0python build": sys.version}))
    _run(cache)
    kept = marshal.loads(stale.read_bytes())
    assert "def gone(): pass" not in kept
    assert sorted(key[1] for key in kept if isinstance(key, tuple)) == ["Frozen", "Plain"]  # their recipes
    assert sum(isinstance(key, str) and key.startswith("def __create_fn__") for key in kept) >= 3  # KeywordsOnly's
    probe = "from kubeplay.dataclass_cache import install; install(__import__('sys').argv[1]); import kubeplay.model.image"
    subprocess.run([sys.executable, "-c", probe, str(cache)], check=True, timeout=60, cwd=ROOT,
                   env={key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"})
    assert (cache / f"kubeplay.model.image.{sys.implementation.cache_tag}.marshal").is_file()


def test_a_corrupt_cache_is_compiled_over_and_rewritten(tmp_path):
    cache = tmp_path / "methods"
    cache.mkdir()
    _main_file(cache).write_bytes(b"\x00not marshal at all")
    assert _run(cache)["compiled"] >= 10
    assert isinstance(marshal.loads(_main_file(cache).read_bytes()), dict)
    assert _run(cache)["compiled"] == 0


def test_a_cache_of_another_python_build_is_not_used(tmp_path):
    cache = tmp_path / "methods"
    _run(cache)
    codes = marshal.loads(_main_file(cache).read_bytes())
    codes["\0python build"] = "another build"
    _main_file(cache).write_bytes(marshal.dumps(codes))
    assert _run(cache)["compiled"] >= 10


def test_nothing_is_written_when_bytecode_may_not_be(tmp_path):
    cache = tmp_path / "methods"
    assert _run(cache, PYTHONDONTWRITEBYTECODE="1")["compiled"] >= 10
    assert not cache.exists()


def test_an_unwritable_place_only_means_compiling_again(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = blocker / "methods"  # its parent is a file
    assert _run(cache)["compiled"] >= 10
    assert _run(cache)["compiled"] >= 10
    assert list(tmp_path.iterdir()) == [blocker]


@pytest.mark.parametrize("command, code", [(["images"], "0"), (["down", "/nonexistent/app.yaml"], "1")])
def test_commands_use_it_through_the_command_tree_and_the_fast_forms(tmp_path, command, code):
    probe = textwrap.dedent(f"""
        import sys
        from kubeplay.cli.main import main
        try:
            main(["--root", {str(tmp_path / "root")!r}, "--runroot", {str(tmp_path / "run")!r}, *{command!r}])
        except SystemExit as exit:
            import dataclasses
            print(exit.code, getattr(dataclasses.exec, "__qualname__", "builtin"))
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.stdout.split()[-2:] == [code, "_Cache.exec"], done.stderr


def test_the_exit_command_uses_it(tmp_path):
    probe = textwrap.dedent(f"""
        import dataclasses
        from kubeplay.cli.internal import main
        code = main(["--root", {str(tmp_path / "root")!r}, "--runroot", {str(tmp_path / "run")!r},
                     "container-exited", "0123456789abcdef"])
        print(code, getattr(dataclasses.exec, "__qualname__", "builtin"))
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.stdout.split()[-1:] == ["_Cache.exec"], done.stderr


INSPECT_SCRIPT = textwrap.dedent("""
    import sys
    from kubeplay.dataclass_cache import install
    install(sys.argv[1])
    from dataclasses import dataclass

    @dataclass
    class Documented:
        '''Says what it is.'''
        name: str

    before = "inspect" in sys.modules

    @dataclass
    class Undocumented:
        name: str
        count: int = 0

    print(before, "inspect" in sys.modules, Undocumented.__doc__, Documented.__doc__)
""")


def test_inspect_is_loaded_only_for_a_class_without_a_docstring(tmp_path):
    done = subprocess.run([sys.executable, "-c", INSPECT_SCRIPT, str(tmp_path / "methods")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split(" ", 2) == ["False", "True", "Undocumented(name: str, count: int = 0) Says what it is.\n"]


def test_every_kubeplay_dataclass_has_a_docstring():
    import ast

    missing = []
    for path in (ROOT / "kubeplay").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.ClassDef) and ast.get_docstring(node) is None
                    and any("dataclass" in ast.unparse(decorator) for decorator in node.decorator_list)):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert missing == [], "a dataclass without a docstring makes every command load inspect (~12 ms)"


DESCRIBE = textwrap.dedent("""
    import dataclasses, importlib, json, pkgutil, re, sys
    if sys.argv[1] != "-":
        from kubeplay.dataclass_cache import install
        cache = install(sys.argv[1])
    import kubeplay

    def plain(value):
        return re.sub(r" at 0x[0-9a-f]+", "", repr(value))

    def function(value):
        if not callable(value) or not hasattr(value, "__code__"):
            return plain(value)
        code = value.__code__
        return {"name": value.__name__, "qualname": value.__qualname__, "module": value.__module__,
                "doc": value.__doc__, "defaults": plain(value.__defaults__), "kwdefaults": plain(value.__kwdefaults__),
                "annotations": plain(value.__annotations__), "code": code.co_code.hex(), "consts": plain(code.co_consts),
                "names": code.co_names, "varnames": code.co_varnames, "freevars": code.co_freevars,
                "closure": [plain(cell.cell_contents) for cell in value.__closure__ or ()],
                "dict": {key: function(item) for key, item in vars(value).items()}}

    def describe(cls):
        fields = [[f.name, f.type, plain(f.default), plain(f.default_factory), f.init, f.repr, f.hash, f.compare,
                   plain(f.metadata), f.kw_only, f._field_type.name] for f in cls.__dataclass_fields__.values()]
        return {"keys": list(vars(cls)), "params": plain(cls.__dataclass_params__), "fields": fields,
                "attributes": {key: function(value) for key, value in vars(cls).items()
                               if key not in ("__dataclass_fields__", "__dataclass_params__", "__dict__",
                                              "__weakref__")}}

    classes = {}
    for info in pkgutil.walk_packages(kubeplay.__path__, "kubeplay."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == info.name and "__dataclass_fields__" in vars(value):
                classes[f"{info.name}.{value.__qualname__}"] = describe(value)
    replayed = cache.replayed if sys.argv[1] != "-" else 0
    print(json.dumps({"replayed": replayed, "classes": classes}))
""")


def _describe(cache: str) -> dict:
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run([sys.executable, "-c", DESCRIBE, cache], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=environment)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_kubeplay_dataclass_rebuilt_from_its_recipe_is_what_dataclasses_makes(tmp_path):
    cache = str(tmp_path / "methods")
    first = _describe(cache)  # records
    replayed = _describe(cache)
    processed = _describe("-")  # dataclasses alone
    assert first["replayed"] == 0 and replayed["replayed"] >= 60
    assert replayed["classes"].keys() == processed["classes"].keys()
    for name, expected in processed["classes"].items():
        assert replayed["classes"][name] == expected, name
    assert first["classes"] == processed["classes"]
