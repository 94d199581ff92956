"""The only place with SQL. Engine and console both go through ``Store``."""

from smt_engine.store.db import Store
from smt_engine.store.errors import DatabaseFull, DatabaseUnusable, StoreError, database_error
from smt_engine.store.lock import AlreadyRunning, EngineLock

__all__ = [
    "AlreadyRunning",
    "DatabaseFull",
    "DatabaseUnusable",
    "EngineLock",
    "Store",
    "StoreError",
    "database_error",
]
