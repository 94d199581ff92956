"""The one way a command says no: a reason the operator can act on, raised by the checks made when a
command is queued and again when the engine executes it."""

from __future__ import annotations


class CommandRejected(Exception):
    """A command that is invalid now (bad arguments, wrong state); the message goes back to the operator."""


class NoEngine(CommandRejected):
    """No engine holds the database, so a queued command would wait for an engine that may start hours
    later: nothing was queued (the operator may ask to queue anyway where that is safe)."""
