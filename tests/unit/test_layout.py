"""The tree is the architecture: each package of the core imports only the packages
below it, and nothing in the Lambda code imports the local tooling or moto."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "layers" / "core" / "tsuzuri"
LOCAL = ROOT / "local" / "tsuzuri_local"

# Bottom to top. A module may import its own package and the ones before it.
LAYERS = ("errors", "settings", "markdown", "domain", "rendering", "aws", "publishing", "related")


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "tsuzuri" else None


def _core_modules() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py") if p.name != "__init__.py" or p.parent != CORE)


def test_every_core_module_is_in_a_known_layer() -> None:
    for path in _core_modules():
        layer = path.relative_to(CORE).parts[0].removesuffix(".py")
        assert layer in LAYERS, f"{path.relative_to(ROOT)}: add its package to LAYERS"


def test_core_packages_import_only_what_is_below_them() -> None:
    upward = []
    for path in _core_modules():
        own = LAYERS.index(path.relative_to(CORE).parts[0].removesuffix(".py"))
        for module in _imports(path):
            layer = _layer(module)
            if layer in LAYERS and LAYERS.index(layer) > own:
                upward.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not upward, "\n".join(sorted(upward))


def test_the_lambda_code_never_imports_local_tooling_or_moto() -> None:
    handlers = sorted((ROOT / "functions").rglob("*.py"))
    assert handlers, "functions/ has no handlers"
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in [*_core_modules(), *handlers]
        for module in _imports(path)
        if module.split(".")[0] in {"tsuzuri_local", "moto", "flask", "werkzeug"}
    ]
    assert not offenders, "\n".join(offenders)


def test_the_local_tooling_is_its_own_package() -> None:
    assert (LOCAL / "__init__.py").is_file()
    assert (LOCAL / "cli.py").is_file()
    # Nothing of the local tooling is left inside the package the layer ships.
    for name in ("devstack", "cli", "provision", "preview", "editor", "redrive"):
        assert not (CORE / f"{name}.py").exists()
        assert not (CORE / name).exists()


def test_the_layering_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "store.py"
    module.write_text("def f():\n    from tsuzuri.publishing.publisher import Publisher\n")
    assert "tsuzuri.publishing.publisher" in _imports(module)
    assert LAYERS.index(_layer("tsuzuri.publishing.publisher") or "") > LAYERS.index("aws")


def test_pyproject_lists_every_package() -> None:
    import tomllib

    declared = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(root.parent).parts)
        for root in (CORE, LOCAL)
        for init in root.rglob("__init__.py")
    }
    assert declared == found
