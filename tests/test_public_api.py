"""The names a user reaches for are importable from the package itself."""
from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

import gridregime


@pytest.mark.parametrize("name", [n for n in gridregime.__all__ if n != "__version__"])
def test_public_name_is_the_defining_modules_object(name):
    obj = getattr(gridregime, name)
    module = __import__(gridregime._PUBLIC[name], fromlist=[name])
    assert obj is getattr(module, name)


def test_version_comes_from_the_package_metadata():
    assert gridregime.__version__ == version("gridregime")


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gridregime.nope  # noqa: B018


def test_importing_the_package_loads_no_heavy_module():
    code = "import sys, gridregime; print(sorted(m for m in ('numpy', 'pyarrow', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
