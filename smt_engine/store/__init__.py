"""The only place with SQL. Engine and console both go through ``Store``."""

from smt_engine.store.db import Store, StoreError
from smt_engine.store.lock import AlreadyRunning, EngineLock

__all__ = ["AlreadyRunning", "EngineLock", "Store", "StoreError"]
