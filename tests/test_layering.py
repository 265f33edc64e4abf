"""Lower layers never import higher ones (docs/architecture.md), checked on the source's AST."""

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# module prefix -> layer; a module may import modules of its own layer or lower ones.
# docs/architecture.md's layer table lists exactly these (test_architecture_doc_matches below);
# the "planned" ones are the packages the open issues add, placed here before they exist.
LAYERS = {
    "emoctl._version": 0,
    "emoctl._files": 0,
    "emoctl._checks": 0,
    "emoctl._locks": 0,
    "emoctl.errors": 0,
    "emoctl.media": 1,
    "emoctl.emotions": 2,
    "emoctl.flame_schema": 2,
    "emoctl.geometry": 3,
    "emoctl.appearance": 4,
    "emoctl.config": 5,
    "emoctl.hub": 6,
    "emoctl.modulators": 7,
    "emoctl.adapters": 8,
    "emoctl.controller": 9,
    "emoctl.render": 10,
    "emoctl.flame": 11,
    "emoctl.data": 12,
    "emoctl.synthetic": 13,
    "emoctl.backbones": 14,
    "emoctl.losses": 15,
    "emoctl.metrics": 15,
    "emoctl.train": 16,
    "emoctl.eval": 17,  # planned
    "emoctl.demo": 18,
    "emoctl.cli": 19,
    "emoctl.testing": 19,
    "emoctl": 20,  # the package root re-exports
}


def layer_of(module: str) -> float:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def source_modules():
    for path in (ROOT / "src" / "emoctl").rglob("*.py"):
        rel = path.relative_to(ROOT / "src").with_suffix("")
        yield ".".join(p for p in rel.parts if p != "__init__"), path
    for path in (ROOT / "adapters").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        yield "emoctl." + ".".join(p for p in rel.parts if p != "__init__"), path


@functools.lru_cache(maxsize=1)
def _modules() -> frozenset[str]:
    return frozenset(m for m, _ in source_modules())


def imported_emoctl_modules(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "emoctl")
        elif isinstance(node, ast.ImportFrom) and node.module == "emoctl" and node.level == 0:
            # ``from emoctl import hub`` imports emoctl.hub (or a name the package root re-exports)
            yield from (f"emoctl.{a.name}" if f"emoctl.{a.name}" in _modules() else "emoctl" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == "emoctl":
            yield node.module


def test_no_module_imports_a_higher_layer():
    violations = []
    for module, path in source_modules():
        own = layer_of(module)
        for target in imported_emoctl_modules(path):
            if target != "emoctl" and layer_of(target) > own:
                violations.append(f"{module} (layer {own}) imports {target} (layer {layer_of(target)})")
    assert not violations, "\n".join(violations)


def test_every_package_has_a_layer():
    unplaced = [m for m, _ in source_modules() if not any(m == p or m.startswith(p + ".") for p in LAYERS if p != "emoctl")]
    assert unplaced in ([], ["emoctl"]), unplaced


def test_from_emoctl_import_a_module_is_checked(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from emoctl import hub, wrap\n")
    assert list(imported_emoctl_modules(module)) == ["emoctl.hub", "emoctl"]


def test_architecture_doc_matches():
    """docs/architecture.md's layer table names every prefix of LAYERS at its layer, and no other."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].isdigit():
            continue
        for name in re.findall(r"`(emoctl[\w.]*)`", cells[1]):
            documented[name] = int(cells[0])
    assert documented == LAYERS
