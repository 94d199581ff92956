"""Foundation verbs: init, config, keys, db, and the demo entry point."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import os
import sys
from pathlib import Path
from typing import Any

from smt_engine.cli.context import Context, VerbError
from smt_engine.config.paths import default_config_path
from smt_engine.config.render import render_effective, render_reference, render_template
from smt_engine.domain import Mode
from smt_engine.exitcodes import ExitCode
from smt_engine.secrets import KeyringUnavailable, SecretName

Sub = Any  # argparse's _SubParsersAction is private; handlers only call add_parser on it


def register(sub: Sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("init", parents=[common], help="write a commented configuration template")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(handler=cmd_init)

    cfg = sub.add_parser("config", parents=[common], help="validate or document the configuration")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    p = cfg_sub.add_parser(
        "check",
        parents=[common],
        help="validate and print the effective settings (secrets only as set/unset)",
    )
    p.set_defaults(handler=cmd_config_check)
    p = cfg_sub.add_parser("reference", parents=[common], help="print the configuration reference (Markdown)")
    p.set_defaults(handler=cmd_config_reference)

    keys = sub.add_parser("keys", parents=[common], help="manage API keys in the OS keyring")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    names = [n.value for n in SecretName]
    p = keys_sub.add_parser("set", parents=[common], help="store a secret (prompted, or read from stdin)")
    p.add_argument("name", choices=names, help="which secret")
    p.set_defaults(handler=cmd_keys_set)
    p = keys_sub.add_parser("delete", parents=[common], help="remove a secret from the OS keyring")
    p.add_argument("name", choices=names, help="which secret")
    p.set_defaults(handler=cmd_keys_delete)
    p = keys_sub.add_parser(
        "status", parents=[common], help="which secrets are set and where from (never the values)"
    )
    p.set_defaults(handler=cmd_keys_status)

    db = sub.add_parser("db", parents=[common], help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    p = db_sub.add_parser(
        "migrate", parents=[common], help="create the database or bring its schema up to date"
    )
    p.set_defaults(handler=cmd_db_migrate)
    p = db_sub.add_parser(
        "check",
        parents=[common],
        help="run SQLite's integrity check on the database (read-only; safe while the engine runs)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_db_check)
    p = db_sub.add_parser(
        "size",
        parents=[common],
        help="rows, bytes on disk and rows written per day of every table (the last 7 days of its writes, "
        "or its life if shorter; read-only)",
    )
    p.add_argument("--db", metavar="PATH", help="database file (default: engine.database from the config)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_db_size)
    p = db_sub.add_parser(
        "scrub",
        parents=[common],
        help="mask secrets that an older SMT stored in clear (stop the engine first)",
        description="Rewrites every stored text and JSON value through secret redaction, with the secrets "
        "loaded as the engine loads them (credentials, keyring, environment, notify_urls), in one "
        "transaction, then rebuilds the file so the old text is gone from disk. Run it once after "
        "upgrading from a version before redaction, and rotate the WEEX keys.",
    )
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_db_scrub)

    p = sub.add_parser(
        "demo",
        parents=[common],
        help="the embedded demo: engine on a paper venue with synthetic market and whales, and the console",
        description="Runs the real engine in demo mode (paper venue, synthetic market and whale feed on an "
        "accelerated clock, heuristic analyst unless a Gemini key is configured) and opens the console. "
        "Approval is manual in the interactive demo: approve with `a`, reject with `r`.",
    )
    p.add_argument(
        "--headless", action="store_true", help="no console: auto approval, time as fast as possible"
    )
    p.add_argument(
        "--minutes", type=float, default=120.0, help="simulated minutes to run headless (default 120)"
    )
    p.add_argument("--json", action="store_true", help="print the headless summary as one JSON object")
    p.add_argument(
        "--db", metavar="PATH", help="demo database (default: a fresh one under $XDG_DATA_HOME/smt/demo)"
    )
    p.add_argument("--engine-process", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--real-start", type=float, help=argparse.SUPPRESS)
    p.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_demo)


def cmd_init(ctx: Context) -> int:
    path = ctx.config_path or default_config_path()
    if path.exists() and not ctx.args.force:
        raise VerbError(f"{path} already exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(render_template())
    print(f"wrote {path}")
    print(f"next: edit it, then run `smt config check --config {path}`")
    return 0


def cmd_config_check(ctx: Context) -> int:
    settings = ctx.settings()
    _check_notify_urls(ctx)
    path = ctx.config_path or default_config_path()
    origin = str(path) if path.exists() else "built-in defaults (no configuration file)"
    print(f"# configuration OK: {origin}")
    print(render_effective(settings))
    print("[secrets]")
    missing: list[str] = []
    for item in ctx.secrets().status():
        state = f"set ({item.source})" if item.is_set else "unset"
        print(f"{item.name.value} = {state}")
        if not item.is_set:
            missing.append(item.name.value)
    if settings.engine.mode is Mode.LIVE:
        needed = [
            n.value
            for n in (SecretName.WEEX_API_KEY, SecretName.WEEX_API_SECRET, SecretName.WEEX_API_PASSPHRASE)
        ]
        absent = [n for n in needed if n in missing]
        if absent:
            print(
                f"\nlive mode needs {', '.join(absent)}: set them with `smt keys set NAME`", file=sys.stderr
            )
            return 1
    return 0


def _check_notify_urls(ctx: Context) -> None:
    """An unusable notify_urls secret is a configuration problem: the engine would start and tell no one."""
    from smt_engine.notify.channels import ChannelError, load_channels

    try:
        load_channels(ctx.secrets())
    except ChannelError as exc:
        raise VerbError(
            f"notify_urls: {exc}; fix it with `smt keys set notify_urls` (or NOTIFY_URLS, or the systemd "
            "credential notify_urls)",
            ExitCode.CONFIG,
        ) from None


def cmd_config_reference(ctx: Context) -> int:
    sys.stdout.write(render_reference())
    return 0


def _read_secret(name: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"{name}: ")
    return sys.stdin.readline().rstrip("\r\n")


def cmd_keys_set(ctx: Context) -> int:
    name = SecretName(ctx.args.name)
    value = _read_secret(name.value)
    if not value.strip():
        raise VerbError(f"{name.value}: empty value, nothing stored")
    try:
        ctx.secrets().set(name, value)
    except KeyringUnavailable as exc:
        raise VerbError(
            f"cannot store {name.value} in the OS keyring: {exc}. On a headless host use systemd credentials "
            f"(LoadCredential={name.value}:/path) or the environment variable {name.env_var}."
        ) from None
    print(f"{name.value} stored in the OS keyring (service 'smt')")
    return 0


def cmd_keys_delete(ctx: Context) -> int:
    name = SecretName(ctx.args.name)
    try:
        removed = ctx.secrets().delete(name)
    except KeyringUnavailable as exc:
        raise VerbError(f"cannot reach the OS keyring: {exc}") from None
    print(f"{name.value} {'removed from' if removed else 'was not in'} the OS keyring")
    return 0


def cmd_keys_status(ctx: Context) -> int:
    width = max(len(n.value) for n in SecretName)
    for item in ctx.secrets().status():
        state = f"set ({item.source})" if item.is_set else "unset"
        print(f"{item.name.value:<{width}}  {state}")
    return 0


def cmd_db_migrate(ctx: Context) -> int:
    path: Path = ctx.settings().engine.database
    store = ctx.store()
    print(f"{path}: schema version {store.schema_version()}")
    return 0


def cmd_db_check(ctx: Context) -> int:
    import json

    path: Path = ctx.settings().engine.database
    store = ctx.store(readonly=True)
    problems = store.check()
    version = store.schema_version()
    if problems:
        message = (
            f"{path}: the database is damaged ({len(problems)} problem(s)): stop SMT and restore the file "
            "from a backup"
        )
        if ctx.args.json:  # the error shape of every --json verb, with the damage listed
            print(json.dumps({"error": message, "code": int(ExitCode.DATABASE), "problems": problems}))
        else:
            for problem in problems:
                print(f"  {problem}")
        print(message, file=sys.stderr)
        return ExitCode.DATABASE
    if ctx.args.json:
        print(json.dumps({"database": str(path), "ok": True, "schema_version": version, "problems": []}))
    else:
        print(f"{path}: ok (schema version {version}, integrity check passed)")
    return ExitCode.OK


def cmd_db_size(ctx: Context) -> int:
    import dataclasses
    import json
    from datetime import UTC, datetime

    from smt_engine.store.retention import table_sizes

    path: Path = Path(ctx.args.db) if ctx.args.db else ctx.settings().engine.database
    if not path.exists():
        raise VerbError(f"{path}: no database here")
    sizes = table_sizes(ctx.store(readonly=True, path=path), datetime.now(UTC))
    if ctx.args.json:
        print(json.dumps({"database": str(path), "tables": [dataclasses.asdict(t) for t in sizes]}))
        return ExitCode.OK
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
    print(f"  {'table':<24} {'rows':>12} {'MB':>9} {'rows/day':>10}")
    for t in sizes:
        mb = f"{t.bytes / 1e6:.1f}" if t.bytes is not None else "-"
        per_day = f"{t.per_day:g}" if t.per_day is not None else "-"
        print(f"  {t.table:<24} {t.rows:>12,} {mb:>9} {per_day:>10}")
    return ExitCode.OK


def cmd_db_scrub(ctx: Context) -> int:
    import json

    from smt_engine.notify.channels import ChannelError, load_channels
    from smt_engine.store.scrub import scrub_secrets

    path: Path = ctx.settings().engine.database
    if not path.exists():
        raise VerbError(f"{path}: no database here, nothing to scrub")
    secrets = ctx.secrets()
    loaded = [item.name.value for item in secrets.status() if item.is_set]  # registers each with redaction
    # The tokens inside the notification URLs too; a bad URL is `smt notify test`'s concern, and the
    # whole notify_urls value is registered already.
    with contextlib.suppress(ChannelError):
        load_channels(secrets)
    if not loaded:
        raise VerbError("no secret is set (keyring, credentials or environment): nothing to scrub for")
    with ctx.engine_lock("stop the engine before scrubbing its database"):
        report = scrub_secrets(ctx.store())
    if ctx.args.json:
        print(json.dumps({"database": str(path), "changed": report.changed, "tables": report.by_table}))
        return ExitCode.OK
    where = ", ".join(f"{table} {n}" for table, n in report.by_table.items())
    print(f"{path}: {report.changed} stored value(s) masked" + (f" ({where})" if where else ""))
    print(f"checked against: {', '.join(loaded)}")
    return ExitCode.OK


def cmd_demo(ctx: Context) -> int:
    import json

    from smt_engine import demo

    db = Path(ctx.args.db).expanduser() if ctx.args.db else demo.default_demo_db()
    if ctx.args.engine_process:
        demo.engine_process_main(db, ctx.args.real_start, ctx.config_path, ctx.args.parent_pid)
        return 0
    if db.exists() and not ctx.args.engine_process:
        raise VerbError(f"{db} already exists: the demo starts from a fresh database (pass another --db)")
    db.parent.mkdir(parents=True, exist_ok=True)
    if getattr(ctx.args, "log_level", None) is None:
        logging.getLogger().setLevel(logging.WARNING)  # the summary or the console is the output
    if ctx.args.headless:
        if ctx.args.minutes <= 0:
            raise VerbError("--minutes must be positive")
        base = ctx.settings() if ctx.config_path else None
        summary = demo.run_headless(ctx.args.minutes, db, base)
        print(json.dumps(summary.as_dict()) if ctx.args.json else summary.text())
        return 0
    if not sys.stdout.isatty():
        raise VerbError("the interactive demo needs a terminal; use `smt demo --headless` in scripts")
    return demo.run_interactive(db, ctx.config_path)
