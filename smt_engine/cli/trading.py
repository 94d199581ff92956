"""Trading verbs: `smt propose`, `smt approve`, `smt reject`, `smt proposals`.

`propose` reads a live price and the available balance from the venue and runs the same gates as the
engine; `approve`/`reject` only queue a command, because the engine is the one process that trades
(``cli/queued.py``: refused when no engine runs, unless ``--queue``).
"""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from smt_engine.cli.context import Context, VerbError
from smt_engine.cli.queued import add_queue_options, send

if TYPE_CHECKING:
    from smt_engine.clock import Clock
    from smt_engine.config import Settings
    from smt_engine.domain import EngineState, Pair
    from smt_engine.exchange.base import Exchange
    from smt_engine.secrets import SecretStore
    from smt_engine.store import Store
    from smt_engine.trading.account_reader import AccountReader, SymbolAccount

Sub = Any


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def _confidence(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("confidence must be between 0 and 1")
    return value


def register(sub: Sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "propose", parents=[common], help="make a manual trade proposal (runs every risk gate)"
    )
    p.add_argument("--pair", required=True, help="pair base, e.g. ETH")
    p.add_argument("--side", required=True, type=str.upper, choices=["LONG", "SHORT"], help="LONG or SHORT")
    p.add_argument("--confidence", required=True, type=_confidence, help="0..1; drives the size")
    p.add_argument("--tp-pct", type=_decimal, help="take-profit distance in %% (default: phase default)")
    p.add_argument("--sl-pct", type=_decimal, help="stop-loss distance in %% (default: phase default)")
    p.add_argument("--note", default="", help="rationale stored with the proposal")
    p.add_argument("--force", action="store_true", help="allow entries before the competition starts")
    p.set_defaults(handler=cmd_propose)

    p = sub.add_parser("approve", parents=[common], help="approve a waiting proposal (queued for the engine)")
    p.add_argument("id", type=int, help="proposal id")
    add_queue_options(p, wait_flag=True)
    p.set_defaults(handler=cmd_approve)

    p = sub.add_parser("reject", parents=[common], help="reject a waiting proposal (queued for the engine)")
    p.add_argument("id", type=int, help="proposal id")
    p.add_argument("--reason", default="", help="why, for the audit log")
    add_queue_options(p, wait_flag=True)
    p.set_defaults(handler=cmd_reject)

    p = sub.add_parser("proposals", parents=[common], help="list recent proposals")
    p.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    p.set_defaults(handler=cmd_proposals)


# --------------------------------------------------------------------------- venue access (patched in tests)


def open_exchange(settings: Settings, store: Store, clock: Clock, secrets: SecretStore) -> Exchange:
    """The configured venue; imported here so `smt --help` does not load HTTP clients."""
    from smt_engine.exchange.factory import make_exchange

    return make_exchange(settings, store, clock, secrets)


async def _read_entry(reader: AccountReader, symbol: str, engine_state: EngineState) -> SymbolAccount:
    """The entry's price, contract and account through the account reader; the venue is closed after."""
    try:
        return await reader.for_symbol(symbol, engine_state)
    finally:
        await reader.exchange.aclose()


# --------------------------------------------------------------------------- handlers


def cmd_propose(ctx: Context) -> int:
    args = ctx.args
    settings = ctx.settings()
    pair = settings.pairs.by_base(args.pair)
    if pair is None:
        names = ", ".join(p.base for p in settings.pairs.all())
        raise VerbError(f"{args.pair}: not a configured pair (configured: {names})")
    with ctx.engine_lock(
        "it owns the proposals and the paper account; approve or reject its proposals instead "
        "(`smt proposals`), or stop it to propose by hand"
    ):
        return _propose(ctx, settings, pair)


def _propose(ctx: Context, settings: Settings, pair: Pair) -> int:
    from smt_engine.clock import WallClock
    from smt_engine.commands.client import actor
    from smt_engine.domain import Action, AnalystKind, Decision, EngineState, ProposalState
    from smt_engine.exchange.base import ExchangeError
    from smt_engine.exchange.market.plausibility import ImplausiblePrice
    from smt_engine.exchange.precision import plain
    from smt_engine.trading.account_reader import AccountReader, AccountUnreadable
    from smt_engine.trading.proposals import ProposalBook

    args = ctx.args
    store = ctx.store()
    clock = WallClock()
    # A pause or a halt recorded by the engine still holds; otherwise gate as a running engine would.
    recorded = store.engine.state_or(EngineState.RUNNING)
    engine_state = recorded if recorded in (EngineState.PAUSED, EngineState.HALTED) else EngineState.RUNNING
    reader = AccountReader(settings, store, clock, open_exchange(settings, store, clock, ctx.secrets()))
    try:
        read = asyncio.run(_read_entry(reader, pair.symbol, engine_state))
    except AccountUnreadable:
        raise VerbError(
            "the available balance could not be read from the exchange: no proposal made"
        ) from None
    except ImplausiblePrice as exc:
        raise VerbError(f"no proposal made: {exc}") from None
    except ExchangeError as exc:
        raise VerbError(f"no proposal made: the exchange could not be read ({exc})") from None
    account = read.account
    decision = Decision(
        action=Action(args.side),
        confidence=args.confidence,
        tp_pct=args.tp_pct or account.competition.default_tp_pct,
        sl_pct=args.sl_pct or account.competition.default_sl_pct,
        hold_hours=0.0,
        reasoning=args.note or f"manual proposal by {actor('cli')}",
        analyst=AnalystKind.HEURISTIC,
    )
    book = ProposalBook(store, clock, settings)
    proposal = book.create(
        pair, decision, account, read.contract, read.price, source="manual", force=args.force
    )
    head = (
        f"proposal #{proposal.id} {proposal.pair} {proposal.side.value} conf {proposal.confidence:.2f}: "
        f"margin {plain(proposal.margin)} USDT, notional {plain(proposal.notional)} USDT at "
        f"{proposal.leverage}x, size {plain(proposal.size)} @ {plain(proposal.entry_ref)}, "
        f"TP {plain(proposal.tp_price)}, SL {plain(proposal.sl_price)}"
    )
    print(head)
    print(
        "note: no engine is running; entry gates were checked as if it were, and are re-checked on approval"
    )
    if proposal.state is ProposalState.DENIED:
        print(f"DENIED: {', '.join(proposal.reason_codes)}")
        for g in proposal.gates:
            if not g.get("passed"):
                print(f"  {g['gate']}: {g['detail']}")
        return 1
    expires = f"{proposal.expires_at:%Y-%m-%d %H:%M} UTC" if proposal.expires_at else "never"
    print(f"waiting for approval until {expires}: `smt approve {proposal.id}` or `smt reject {proposal.id}`")
    return 0


def _queue_decision(ctx: Context, verb: str) -> int:
    from smt_engine.clock import WallClock
    from smt_engine.commands.args import ApproveArgs, RejectArgs
    from smt_engine.domain import ProposalState

    store = ctx.store()
    pid = int(ctx.args.id)
    proposal = store.proposals.get(pid)
    if proposal is None:
        raise VerbError(f"no proposal #{pid} (list them with `smt proposals`)")
    if proposal.state is not ProposalState.PROPOSED:
        raise VerbError(f"proposal #{pid} is {proposal.state.value}: there is nothing to {verb}")
    now = WallClock().now()
    if proposal.expires_at is not None and now >= proposal.expires_at:
        raise VerbError(f"proposal #{pid} expired at {proposal.expires_at:%Y-%m-%d %H:%M:%S} UTC")
    args = (
        ApproveArgs(proposal_id=pid)
        if verb == "approve"
        else RejectArgs(proposal_id=pid, reason=ctx.args.reason)
    )
    expires = f"{proposal.expires_at:%Y-%m-%d %H:%M} UTC" if proposal.expires_at else "never"
    return send(
        ctx,
        args,
        f"{verb} of proposal #{pid} ({proposal.pair} {proposal.side.value})",
        wait=ctx.args.wait,
        later=f", unless the proposal has expired by then (expires {expires})",
    )


def cmd_approve(ctx: Context) -> int:
    return _queue_decision(ctx, "approve")


def cmd_reject(ctx: Context) -> int:
    return _queue_decision(ctx, "reject")


def cmd_proposals(ctx: Context) -> int:
    from smt_engine.exchange.precision import plain

    store = ctx.store(readonly=True)  # a listing never creates or migrates a database
    rows = store.proposals.recent(limit=max(1, ctx.args.limit))
    if not rows:
        print("no proposals yet")
        return 0
    header = (
        "id",
        "created (UTC)",
        "pair",
        "side",
        "conf",
        "margin",
        "notional",
        "lev",
        "size",
        "entry",
        "TP",
        "SL",
        "state",
        "reasons",
    )
    table = [header]
    for p in rows:
        table.append(
            (
                str(p.id),
                f"{p.created_at:%m-%d %H:%M}",
                p.pair,
                p.side.value,
                f"{p.confidence:.2f}",
                f"{p.margin:.2f}",
                f"{p.notional:.2f}",
                f"{p.leverage}x",
                plain(p.size),
                plain(p.entry_ref),
                plain(p.tp_price),
                plain(p.sl_price),
                p.state.value,
                ",".join(p.reason_codes),
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip())
    print("margin and notional in USDT (notional = margin x leverage)")
    return 0
