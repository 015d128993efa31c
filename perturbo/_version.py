"""The installed package's version, at the bottom of the import graph (the code generator and the cache read it)."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("perturbo")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
