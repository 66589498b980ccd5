"""Build the Cython extensions in kraft/_native.

Every ``kraft/_native/*.pyx`` becomes ``kraft._native.<name>``.  Extra C sources
for a module are named in the module's own header with a
``# distutils: sources = ...`` directive, so adding a native module needs no
change here.  ``KRAFT_DEBUG_BUILD=1`` builds without optimisation and with
Cython's bounds checks on, for debugging.
"""
import os
from glob import glob

from setuptools import Extension, setup

from Cython.Build import cythonize

DEBUG = os.environ.get("KRAFT_DEBUG_BUILD") == "1"

extra_compile_args = ["-O0", "-g"] if DEBUG else ["-O3"]
extensions = [
    Extension(
        "kraft._native." + os.path.splitext(os.path.basename(path))[0],
        [path],
        include_dirs=["kraft/_native/src"],
        extra_compile_args=extra_compile_args,
    )
    for path in sorted(glob("kraft/_native/*.pyx"))
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": DEBUG,
            "wraparound": DEBUG,
            "cdivision": True,
            "embedsignature": True,
        },
    ),
)
