"""Hark's composition root: the CLI, configuration and the wiring of `voice`, `vision` and `dialogue`."""

__version__ = "0.1.0"
