"""The verbs that queue an operator command (approve, reject, enter, close, move-stop, move-tp, cooldowns
clear, pause, resume, cycle, cleanup, reload) send it here: one policy, one wait, one way to print.

The policy is the command client's: nothing is queued when no engine holds the database (the command
would wait for an engine that may start hours later, and act on a world that moved), unless the operator
gives ``--queue``. What is printed is the engine's own answer, in the console's words, then its full
result.
"""

from __future__ import annotations

import argparse
import json

from smt_engine.cli.context import Context, VerbError
from smt_engine.commands.args import CommandArgs
from smt_engine.commands.client import CommandClient
from smt_engine.commands.errors import NoEngine
from smt_engine.commands.results import OpenedResult
from smt_engine.exitcodes import ExitCode

TIMEOUT = 120.0
"""Seconds a verb waits for the engine's outcome unless told otherwise: an entry may take the venue's
leverage, fill and protection timeouts in turn before the engine answers."""

QUEUE_HELP = (
    "queue it even when no engine is running: the engine handles it when it next starts "
    "(default: refuse, nothing queued)"
)

WAIT_HELP = (
    "wait for the engine's outcome and print it (exit 0 done, 1 refused or failed, 6 no answer in time)"
)


def add_queue_options(p: argparse.ArgumentParser, *, wait_flag: bool = False) -> None:
    """``--queue`` and ``--timeout`` on a queuing verb; ``--wait`` on one that returns once queued."""
    p.add_argument("--queue", action="store_true", help=QUEUE_HELP)
    if wait_flag:
        p.add_argument("--wait", action="store_true", help=WAIT_HELP)
    p.add_argument(
        "--timeout",
        type=float,
        default=TIMEOUT,
        help=f"seconds to wait for the engine's outcome (default {TIMEOUT:g})",
    )


def send(ctx: Context, args: CommandArgs, what: str, *, wait: bool = True, later: str = "") -> int:
    """Queue ``args`` (described as ``what``) under the policy, then wait for the outcome and print it.

    Without an engine and with ``--queue`` it is queued and not waited for (``later`` says what may stop
    it then); ``wait=False`` returns once it is queued."""
    client = ctx.commands()
    try:
        command = client.send(args, queue_without_engine=bool(ctx.args.queue))
    except NoEngine:
        raise VerbError(
            f"no engine is running on {ctx.settings().engine.database}: nothing was queued (start it with "
            "`smt start` or `smt engine`, or give --queue to leave it for the engine's next start)"
        ) from None
    assert command.id is not None
    print(f"queued {what} as command #{command.id}", flush=True)
    if not client.engine_running():
        print(f"no engine is running: the engine handles it when it starts{later} (see `smt events`)")
        return ExitCode.OK
    if not wait:
        print("the engine handles it within seconds: `smt events` shows the outcome (--wait prints it)")
        return ExitCode.OK
    return report(ctx, client, command.id, float(ctx.args.timeout))


def report(ctx: Context, client: CommandClient, command_id: int, timeout: float) -> int:
    """Wait up to ``timeout`` seconds for the command, then print its outcome; the exit code says which."""
    outcome = client.wait(command_id, timeout)
    if outcome is None:
        print(
            f"no outcome after {timeout:g} s: command #{command_id} is still {client.state(command_id)}; "
            "the engine still handles it (see `smt events`)"
        )
        return ExitCode.NO_RESULT
    print(outcome.says())
    if outcome.result is None:
        return ExitCode.FAILED
    print(f"result: {json.dumps(outcome.result.to_row())}")
    if isinstance(outcome.result, OpenedResult) and outcome.result.position_id is not None:
        print(_opened(ctx, outcome.result, outcome.result.position_id))
    return ExitCode.OK


def _opened(ctx: Context, result: OpenedResult, position_id: int) -> str:
    """The position an entry opened, with its protection, as the store holds it now."""
    from smt_engine.exchange.precision import plain

    position = ctx.store().positions.get(position_id)
    if position is None:
        return f"position #{position_id} is not in the database (see `smt events`)"
    tp = plain(position.tp_price) if position.tp_price else "-"
    sl = plain(position.sl_price) if position.sl_price else "-"
    return (
        f"opened {position.symbol} {position.side.value} {plain(position.size)} @ "
        f"{plain(position.entry_price)}, TP {tp} / SL {sl} (proposal #{result.proposal_id}, "
        f"position #{position.id})"
    )
