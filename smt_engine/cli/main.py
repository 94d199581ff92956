"""`smt` entry point: parses arguments, then calls one function per verb.

Each area registers its subcommands from a module in ``smt_engine.cli``; heavy imports
happen inside the handlers so `smt --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from collections.abc import Sequence

from smt_engine import __version__
from smt_engine.cli import VERB_MODULES
from smt_engine.cli.context import Context, exit_code_for
from smt_engine.exitcodes import ExitCode
from smt_engine.secrets import redact


def common_options() -> argparse.ArgumentParser:
    """Options every verb accepts, before or after the verb."""
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
    for name in VERB_MODULES:
        importlib.import_module(name).register(sub, common)
    return parser


def wants_json(argv: Sequence[str]) -> bool:
    return "--json" in argv


def print_error(message: str, code: int, as_json: bool) -> None:
    """One line on stderr; with ``--json`` also the scripting contract's object on stdout."""
    print(message, file=sys.stderr)
    if as_json:
        print(json.dumps({"error": message, "code": code}))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse already printed
        if exc.code and wants_json(argv):
            print(json.dumps({"error": "invalid command line (see the usage on stderr)", "code": exc.code}))
        raise
    as_json = bool(getattr(args, "json", False))
    ctx = Context(args)
    try:
        ctx.setup_logging()
        status = int(args.handler(ctx))
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return status
    except BrokenPipeError:
        return _reader_gone()
    except KeyboardInterrupt:
        print_error("interrupted", ExitCode.INTERRUPTED, as_json)
        return ExitCode.INTERRUPTED
    except Exception as exc:
        known = ctx.explain(exc)
        code = exit_code_for(known)
        if code is None:  # a bug: keep the traceback for the report, still honour the contract
            sys.stderr.write(redact(traceback.format_exc()))
            message = f"internal error: {type(exc).__name__}: {redact(str(exc))}"
            print_error(message, ExitCode.INTERNAL, as_json)
            return ExitCode.INTERNAL
        print_error(str(known), code, as_json)
        return code
    finally:
        ctx.close()


def _reader_gone() -> int:
    """The reader of our output went away (`smt scorecard | head`): stop quietly, as Unix tools do.

    Whatever is still buffered for stdout goes to /dev/null so the interpreter's last flush cannot fail
    again; the exit code is the shell's for a process ended by SIGPIPE.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return ExitCode.BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
