"""The package's version, in a module of its own so that any module can read it without
importing the top package (which imports every other module)."""

__version__ = "0.1.0"
