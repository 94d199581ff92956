"""Subcommand modules, each with ``register(subparsers, common)``. Add a line to extend the CLI."""

COMMAND_MODULES: tuple[str, ...] = (
    "smt_engine.commands.core",
    "smt_engine.commands.service",
    "smt_engine.commands.trading",
    "smt_engine.commands.analyst",
    "smt_engine.commands.scorecard",
    "smt_engine.commands.replay",
    "smt_engine.commands.whales",
    "smt_engine.commands.console",
    "smt_engine.commands.engine",
    "smt_engine.commands.notify",
)
