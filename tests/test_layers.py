"""No layer imports one above it: every ``import`` in the package (read with ``ast``,
nothing is run, so imports inside functions and under ``TYPE_CHECKING`` count too) is
checked against one declared layer order."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fakepeer"

#: Bottom up; the units of one layer may import each other and anything below.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("fakepeer", "vocabulary", "errors", "addresses"),
    ("scenario", "sip"),
    ("pki",),
    ("tls",),
    ("report",),
    ("profiles", "realize", "generation"),
    ("net",),
    ("probe", "rehearse"),
    ("app",),  # the application as a service tree (issue 13, part 2)
    ("cli", "__main__"),
)
#: Modules that import nothing of fakepeer's, so that any layer can use them.
STANDALONE = ("vocabulary", "addresses")

_LAYER_OF = {unit: index for index, units in enumerate(LAYERS) for unit in units}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def where(self) -> str:
        return f"{self.importer} (line {self.line}) imports {self.imported}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    relative = Path(*dotted.split("."))
    base = PACKAGE.parent / relative
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports(path: Path) -> list[Import]:
    """Every fakepeer module ``path`` imports (``from fakepeer import x`` resolves ``x``)."""
    importer = _module_name(path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            names += [f"{node.module}.{a.name}" for a in node.names
                      if _is_module(f"{node.module}.{a.name}")]
        else:
            continue
        found += [Import(importer, name, node.lineno) for name in names
                  if name == "fakepeer" or name.startswith("fakepeer.")]
    return found


def _unit(module: str) -> str:
    """The layer unit of a module: its top-level module or subpackage under fakepeer."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "fakepeer"


ALL_IMPORTS = [found for path in sorted(PACKAGE.rglob("*.py")) for found in _imports(path)]


def test_every_unit_has_a_declared_layer():
    """A new top-level module or subpackage must be placed in LAYERS before it ships."""
    units = {_unit(_module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert units - set(_LAYER_OF) == set()


def test_no_module_imports_a_layer_above_its_own():
    """Imports point down (or sideways within a layer), never up."""
    upward = [found.where() for found in ALL_IMPORTS
              if _LAYER_OF[_unit(found.imported)] > _LAYER_OF[_unit(found.importer)]]
    assert upward == []


def test_standalone_modules_import_nothing_of_fakepeer():
    """vocabulary and addresses stay free of the rest of fakepeer (and so of Twisted,
    OpenSSL and cryptography)."""
    imported = [found.where() for found in ALL_IMPORTS
                if _unit(found.importer) in STANDALONE]
    assert imported == []


def test_the_check_sees_imports_inside_functions():
    """The walk covers lazy imports: the CLI imports the application inside serve's
    launcher."""
    assert any(found.importer == "fakepeer.cli.commands.serve"
               and found.imported == "fakepeer.app.serve" for found in ALL_IMPORTS)
