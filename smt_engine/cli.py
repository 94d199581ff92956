"""`smt` entry point: parses arguments, then calls one function per command.

Each area registers its subcommands from a module in ``smt_engine.commands``; heavy imports
happen inside the handlers so `smt --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

from smt_engine.commands import COMMAND_MODULES
from smt_engine.commands.context import Context, exit_code_for

__version__ = "0.1.0"


def common_options() -> argparse.ArgumentParser:
    """Options every command accepts, before or after the command name."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="configuration file (default: $SMT_CONFIG or XDG)",
    )
    parent.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default=argparse.SUPPRESS,
        help="log level",
    )
    parent.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=argparse.SUPPRESS,
        help="text (default) or json lines",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="smt",
        description="SMT follows smart money on Ethereum, asks a grounded LLM for a decision on WEEX "
        "perpetual pairs, and trades them under hard risk limits. The engine runs headless; "
        "`smt tui` is the operator console.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"smt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = Context(args)
    try:
        ctx.setup_logging()
        return int(args.handler(ctx))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        code = exit_code_for(exc)
        if code is None:
            raise
        if getattr(args, "json", False):
            # A --json caller parses stdout: it gets JSON on errors too, and the message on stderr.
            print(json.dumps({"error": str(exc), "exit_code": code}))
        print(str(exc), file=sys.stderr)
        return code
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())
