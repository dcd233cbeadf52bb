"""Build the compiled kernels. Metadata lives in pyproject.toml.

Every ``src/gridregime/_libs/*.pyx`` becomes an extension module. A missing compiler or
Cython is a hard error: there is no pure-Python fall-back.

Bounds checking, wraparound and initialisation checks are set here, not in the ``.pyx`` headers
(a header directive would override this file and make the debug switch a no-op).

Environment switches (developer use):
  GRIDREGIME_CYTHON_DEBUG=1   bounds checking and wraparound back on, for hunting kernel bugs
                              (add --force to build_ext when switching modes either way).
  GRIDREGIME_ONLY=rank,ranges build only the named modules (faster edit-compile loops).
"""
import os
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent
LIBS = Path("src", "gridregime", "_libs")

debug = os.environ.get("GRIDREGIME_CYTHON_DEBUG") == "1"
only = {m for m in os.environ.get("GRIDREGIME_ONLY", "").split(",") if m}

extensions = []
for pyx in sorted((HERE / LIBS).glob("*.pyx")):
    if only and pyx.stem not in only:
        continue
    extensions.append(
        Extension(
            f"gridregime._libs.{pyx.stem}",
            [str(LIBS / pyx.name)],
            include_dirs=[np.get_include(), "csrc"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=["-O3"] if os.name != "nt" else [],
        )
    )

if not extensions:
    raise SystemExit("setup.py: no Cython sources found under src/gridregime/_libs")

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        # Debug C goes to its own directory: switching modes never reuses the other mode's C.
        build_dir="build/cython-debug" if debug else None,
        compiler_directives={
            "boundscheck": debug,
            "wraparound": debug,
            "cdivision": True,
            "initializedcheck": debug,
        },
    ),
)
