"""SMT: the headless trading engine."""

__version__ = "0.1.0"
"""The one version: `smt --version` prints it and the venue probe is valid for it only."""
