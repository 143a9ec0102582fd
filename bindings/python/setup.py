"""Build hook: bundles libtandem into the wheel when ``TANDEM_BUNDLE_LIBRARY`` names it.

    TANDEM_BUNDLE_LIBRARY=../../target/release/libtandem.so python -m build --wheel bindings/python

gives a ``py3-none-<platform>`` wheel with the library next to the package (where ``tandem`` looks for it).
Without the variable the wheel is pure Python and the library is found through ``TANDEM_LIBRARY`` or the system
loader. Everything else is in pyproject.toml.
"""

import os
import shutil

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover - setuptools < 70.1 uses the wheel package's
    from wheel.bdist_wheel import bdist_wheel

BUNDLE = os.environ.get("TANDEM_BUNDLE_LIBRARY")


class BuildPyBundling(build_py):
    """Copies the library named by TANDEM_BUNDLE_LIBRARY into the built package."""

    def run(self) -> None:
        super().run()
        if BUNDLE:
            if not os.path.isfile(BUNDLE):
                raise SystemExit(f"TANDEM_BUNDLE_LIBRARY={BUNDLE}: no such file")
            target = os.path.join(self.build_lib, "tandem", os.path.basename(BUNDLE))
            shutil.copyfile(BUNDLE, target)
            os.chmod(target, 0o755)


class BundlingDistribution(Distribution):
    """Declares the bundled library as binary content, so the wheel installs the package into platlib from its root
    (not under ``.data/purelib``)."""

    def has_ext_modules(self) -> bool:
        return bool(BUNDLE)


class BdistWheelPlatform(bdist_wheel):
    """A wheel with a bundled library is platform specific, but not tied to a Python version or ABI."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if BUNDLE:
            self.root_is_pure = False

    def get_tag(self):  # type: ignore[no-untyped-def]
        python, abi, plat = super().get_tag()
        return ("py3", "none", plat) if BUNDLE else (python, abi, plat)


setup(
    distclass=BundlingDistribution,
    cmdclass={"build_py": BuildPyBundling, "bdist_wheel": BdistWheelPlatform},
)
