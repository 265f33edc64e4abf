"""Lower layers never import higher ones (docs/architecture.md), checked on the source's AST."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# module prefix -> layer; a module may import modules of its own layer or lower ones
LAYERS = {
    "emoctl._version": 0,
    "emoctl._files": 0,
    "emoctl._locks": 0,
    "emoctl.errors": 0,
    "emoctl.emotions": 1,
    "emoctl.geometry": 2,
    "emoctl.appearance": 3,
    "emoctl.config": 3.4,
    "emoctl.hub": 3.45,
    "emoctl.modulators": 3.5,
    "emoctl.adapters": 4,
    "emoctl.controller": 5,
    "emoctl.render": 6.0,
    "emoctl.flame": 6.1,
    "emoctl.data": 6.2,
    "emoctl.synthetic": 7,
    "emoctl.demo": 8,
    "emoctl.cli": 9,
    "emoctl.testing": 9,
    "emoctl": 10,  # the package root re-exports
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


def imported_emoctl_modules(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "emoctl")
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
