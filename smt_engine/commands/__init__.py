"""Operator commands queued in the database: the typed contract per kind (``args``, ``results``,
``contract``), the client the CLI and the console send through (``client``), and the engine's service
that owns every handler (``service``). Import the modules you need: the console imports the contract and
the client only, never the engine-side handlers (they reach the exchange).
"""
