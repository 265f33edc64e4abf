"""Packaging: import cost, optional dependencies, the package list, adapters as emoctl.adapters."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_emoctl_is_light():
    code = (
        "import sys, time; import torch; t = time.perf_counter(); import emoctl; dt = time.perf_counter() - t\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'diffusers', 'gsplat', 'huggingface_hub', 'smplx', 'imageio', 'scipy', 'transformers'})\n"
        "print(dt); print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[1] == "", f"import emoctl pulled in {out[1]}"
    assert float(out[0]) < 1.0


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"emoctl." + ".".join(p.parent.relative_to(ROOT / "src" / "emoctl").parts) for p in (ROOT / "src" / "emoctl").rglob("__init__.py")}
    found = {f.rstrip(".") for f in found} | {"emoctl.adapters"}
    assert found == listed, f"pyproject.toml packages differ: missing {sorted(found - listed)}, stale {sorted(listed - found)}"


def test_adapters_folder_is_emoctl_adapters():
    import emoctl.adapters

    assert Path(emoctl.adapters.__file__).resolve().parent == ROOT / "adapters"
