"""`smt notify`: send a test notification now, and show what the engine's outbox holds."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
from datetime import UTC, datetime
from typing import Any

from smt_engine.cli.context import Context, VerbError
from smt_engine.secrets import redact


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    notify = sub.add_parser(
        "notify",
        parents=[common],
        help="operator notifications (URLs: `smt keys set notify_urls`)",
        description="Notifications go through apprise to any service it supports (Telegram, Discord, Slack, "
        "e-mail, ntfy, Matrix, webhooks, ...). The URLs carry tokens, so they are a secret: "
        "`smt keys set notify_urls`, the NOTIFY_URLS environment variable or the systemd credential "
        "notify_urls; separate several URLs with spaces or commas.",
    )
    nsub = notify.add_subparsers(dest="notify_command", metavar="ACTION", required=True)
    p = nsub.add_parser("test", parents=[common], help="send one test notification to every channel now")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_notify_test)
    p = nsub.add_parser("outbox", parents=[common], help="recent notifications: state, attempts, last error")
    p.add_argument("-n", type=int, default=20, help="how many (newest first)")
    p.add_argument("--json", action="store_true", help="one JSON array (newest first)")
    p.set_defaults(handler=cmd_notify_outbox)


def cmd_notify_test(ctx: Context) -> int:
    from smt_engine.domain import EventLevel
    from smt_engine.notify import sender
    from smt_engine.notify.channels import ChannelError, load_channels

    settings = ctx.settings()
    try:
        channels = load_channels(ctx.secrets())
    except ChannelError as exc:
        raise VerbError(str(exc)) from None
    if not channels:
        raise VerbError(
            "no notification URLs set: `smt keys set notify_urls` (or NOTIFY_URLS, or the systemd "
            "credential notify_urls), e.g. tgram://BOT_TOKEN/CHAT_ID"
        )
    now = datetime.now(UTC)
    title = "SMT: test notification"
    body = (
        f"Sent by `smt notify test` on {socket.gethostname()} at {now:%Y-%m-%d %H:%M UTC}. "
        "If you read this, the engine's notifications reach you."
    )

    async def send_all() -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for channel in channels:
            try:
                await sender.send(channel, title, body, EventLevel.INFO, settings.notify.timeout)
                results.append({"channel": channel.label, "sent": True, "error": None})
            except sender.DeliveryFailed as exc:
                results.append({"channel": channel.label, "sent": False, "error": redact(str(exc))})
        return results

    results = asyncio.run(send_all())
    if ctx.args.json:
        print(json.dumps({"channels": results, "ok": all(r["sent"] for r in results)}))
    else:
        for r in results:
            print(f"{r['channel']:<20} {'sent' if r['sent'] else 'FAILED: ' + r['error']}")
    return 0 if all(r["sent"] for r in results) else 1


def cmd_notify_outbox(ctx: Context) -> int:
    store = ctx.store(readonly=True)
    rows = store.notifications.recent(limit=ctx.args.n)
    if ctx.args.json:  # one document, so an empty outbox is `[]` rather than no output
        print(
            json.dumps(
                [
                    {
                        "id": n.id,
                        "kind": n.kind,
                        "channel": n.channel,
                        "state": n.state.value,
                        "attempts": n.attempts,
                        "created_at": n.created_at.isoformat(),
                        "sent_at": n.sent_at.isoformat() if n.sent_at else None,
                        "title": n.title,
                        "last_error": n.last_error,
                    }
                    for n in rows
                ]
            )
        )
        return 0
    for n in rows:
        error = f"  ({n.last_error})" if n.last_error and n.state.value != "sent" else ""
        print(
            f"#{n.id:<5} {n.created_at:%Y-%m-%d %H:%M:%S} {n.state.value:<8} x{n.attempts:<3} "
            f"{n.channel:<16} {n.title}{error}"
        )
    return 0
