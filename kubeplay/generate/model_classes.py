"""The `kubernetes` package's model classes that generate checks documents with, loaded alone.

`import kubernetes.client.models` first runs `kubernetes/__init__.py` and `kubernetes/client/__init__.py`,
which import the kube-config loader, the API client, requests, urllib3 and oauthlib: about a third
of a second that generate never uses. Each model module imports only pydantic and the model modules
it refers to, by their full names. So, while the three packages are not imported yet, they are put
in sys.modules as empty stand-ins whose __path__ is the real directory, the model modules are
imported through them, and the stand-ins are taken out again: the classes are the package's own,
and a later `import kubernetes` loads the real packages, which find the same model modules.

If anything about that fails (another layout of the package), the ordinary import is used.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path

_PACKAGES = ("kubernetes", "kubernetes.client", "kubernetes.client.models")
_loaded: dict[str, type] = {}


def model_class(class_name: str, module_name: str) -> type:
    """`kubernetes.client.models.<class_name>`, defined in module `<module_name>` of that package."""
    found = _loaded.get(class_name)
    if found is None:
        try:
            found = _alone(class_name, module_name)
        except Exception:  # any surprise in the shortcut: the ordinary import decides
            found = _ordinary(class_name)
        _loaded[class_name] = found
    return found


def _ordinary(class_name: str) -> type:
    from kubernetes.client import models

    return getattr(models, class_name)


def _alone(class_name: str, module_name: str) -> type:
    if any(name in sys.modules for name in _PACKAGES):
        return _ordinary(class_name)  # the real packages are (being) imported: nothing to save
    spec = importlib.util.find_spec("kubernetes")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the kubernetes package is not installed as a directory")
    root = Path(next(iter(spec.submodule_search_locations)))
    directories = (root, root / "client", root / "client" / "models")
    if not (directories[2] / f"{module_name}.py").is_file():
        raise ImportError(f"kubernetes has no model module {module_name}")
    sys.modules.update({name: _stand_in(name, directory) for name, directory in zip(_PACKAGES, directories)})
    try:
        model = getattr(importlib.import_module(f"kubernetes.client.models.{module_name}"), class_name)
    finally:
        for name in _PACKAGES:
            sys.modules.pop(name, None)
    if not getattr(model, "__pydantic_complete__", False):
        raise ImportError(f"{class_name} is not fully built without its package")
    return model


def _stand_in(name: str, directory: Path) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    module.__spec__.submodule_search_locations = [str(directory)]
    module.__path__ = [str(directory)]
    return module
