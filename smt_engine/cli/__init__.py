"""The `smt` command line: one module per area of verbs, each with ``register(subparsers, common)``.

"Command" elsewhere in SMT means an operator command queued for the engine (`store.commands`);
the modules here are CLI verbs. Add a line to ``VERB_MODULES`` to extend the CLI.
"""

VERB_MODULES: tuple[str, ...] = (
    "smt_engine.cli.core",
    "smt_engine.cli.service",
    "smt_engine.cli.trading",
    "smt_engine.cli.entry",
    "smt_engine.cli.analyst",
    "smt_engine.cli.scorecard",
    "smt_engine.cli.performance",
    "smt_engine.cli.replay",
    "smt_engine.cli.backtest",
    "smt_engine.cli.data",
    "smt_engine.cli.whales",
    "smt_engine.cli.console",
    "smt_engine.cli.engine",
    "smt_engine.cli.adjust",
    "smt_engine.cli.notify",
    "smt_engine.cli.venue",
)
