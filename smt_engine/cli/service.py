"""systemd integration: render the unit for this installation, and the seed's control verbs.

Nothing here runs sudo: system-wide steps are printed for the operator to run.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from smt_engine.cli.context import Context, VerbError

UNIT_NAME = "smt-trading.service"
SERVICE = "smt-trading"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    svc = sub.add_parser("service", parents=[common], help="install the systemd unit")
    svc_sub = svc.add_subparsers(dest="service_command", metavar="ACTION", required=True)
    p = svc_sub.add_parser(
        "install", parents=[common], help="render smt-trading.service with this installation's paths"
    )
    p.add_argument("--user", action="store_true", help="a user unit (~/.config/systemd/user), no root needed")
    p.add_argument(
        "--output", metavar="FILE", help="where to write the unit (system install: ./smt-trading.service)"
    )
    p.add_argument(
        "--service-user", default="smt", help="dedicated account the system unit runs as (default: smt)"
    )
    p.set_defaults(handler=cmd_service_install)

    verbs = {
        "start": "start the engine service",
        "stop": "stop the engine service (it finishes or abandons the current step safely)",
        "restart": "restart the engine service",
        "enable": "start the engine at boot",
        "disable": "do not start the engine at boot",
        "logs": "follow the engine's journal",
    }
    for verb, text in verbs.items():
        p = sub.add_parser(verb, parents=[common], help=text)
        p.add_argument("--user", action="store_true", help="the user unit instead of the system unit")
        if verb == "logs":
            p.add_argument("--lines", "-n", type=int, default=100, help="lines of history to show first")
            p.add_argument("--no-follow", action="store_true", help="print and exit")
        p.set_defaults(handler=cmd_control, verb=verb)


def template() -> str:
    """The unit template: the repository's top-level file when run from a checkout, else the packaged copy."""
    checkout = Path(__file__).resolve().parents[2] / UNIT_NAME
    if checkout.exists():
        return checkout.read_text(encoding="utf-8")
    return resources.files("smt_engine").joinpath("data", UNIT_NAME).read_text(encoding="utf-8")


def smt_executable() -> str:
    """Absolute path of the `smt` entry point of this installation (the venv's, not whatever is on PATH)."""
    candidate = Path(sys.executable).with_name("smt")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("smt")
    if found:
        return str(Path(found).resolve())
    return f"{sys.executable} -m smt_engine.cli"


SHIPPED_EXEC = "ExecStart=/usr/bin/env smt "
SHIPPED_ACCOUNT = "User=smt\nGroup=smt\n"


def render_unit(*, user_mode: bool, service_user: str = "smt", smt: str | None = None) -> str:
    """The shipped unit with this installation's absolute `smt` and the chosen account."""
    text = template()
    if SHIPPED_EXEC not in text or SHIPPED_ACCOUNT not in text:
        raise VerbError(f"{UNIT_NAME}: the template lacks its ExecStart or User lines; reinstall SMT")
    account = "" if user_mode else f"User={service_user}\nGroup={service_user}\n"
    text = text.replace(SHIPPED_EXEC, f"ExecStart={smt or smt_executable()} ").replace(
        SHIPPED_ACCOUNT, account
    )
    if user_mode:
        # A user manager cannot drop to another account or load root-owned credential files.
        text = text.replace("WantedBy=multi-user.target", "WantedBy=default.target")
        text = text.replace("LoadCredential=", "#LoadCredential=").replace(
            "##LoadCredential", "#LoadCredential"
        )
        for needs_root in ("PrivateUsers=yes\n", "ProtectClock=yes\n", "ProtectKernelLogs=yes\n"):
            text = text.replace(needs_root, "")
    return text


def cmd_service_install(ctx: Context) -> int:
    user_mode = bool(ctx.args.user)
    unit = render_unit(user_mode=user_mode, service_user=ctx.args.service_user)
    if ctx.args.output:
        target = Path(ctx.args.output)
    elif user_mode:
        target = (
            Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
            / "systemd"
            / "user"
            / UNIT_NAME
        )
    else:
        target = Path.cwd() / UNIT_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(unit, encoding="utf-8")
    print(f"wrote {target}")
    print("next:")
    if user_mode:
        print("  smt init   # if you have no configuration yet; then copy it to ~/.config/smt/config.toml")
        print("  systemctl --user daemon-reload")
        print("  systemctl --user enable --now smt-trading")
        print("  loginctl enable-linger $USER   # keep it running after you log out")
        print("  secrets: `smt keys set NAME` (keyring) or environment variables; see docs/operator-guide.md")
    else:
        name = shlex.quote(ctx.args.service_user)
        print(f"  sudo useradd --system --home-dir /var/lib/smt --shell /usr/sbin/nologin {name}")
        print("  sudo install -d -m 0750 /etc/smt && sudo install -d -m 0700 /etc/smt/credentials")
        print("  smt init --config config.toml && sudo install -m 0640 config.toml /etc/smt/config.toml")
        print("  # one file per key, e.g.:")
        print("  sudo sh -c 'umask 077; cat > /etc/smt/credentials/weex_api_key'")
        print(f"  sudo install -m 0644 {shlex.quote(str(target))} /etc/systemd/system/{UNIT_NAME}")
        print("  sudo systemctl daemon-reload && sudo systemctl enable --now smt-trading")
        print("  smt logs   # watch it start")
    return 0


def systemd_running() -> bool:
    return shutil.which("systemctl") is not None and Path("/run/systemd/system").is_dir()


def cmd_control(ctx: Context) -> int:
    verb: str = ctx.args.verb
    if not systemd_running():
        raise VerbError(
            f"`smt {verb}` needs systemd, which is not running on this host. Run the engine in the "
            "foreground with `smt engine`, or under your own supervisor."
        )
    scope = ["--user"] if ctx.args.user else []
    if verb == "logs":
        cmd = ["journalctl", *scope, "-u", SERVICE, "-n", str(ctx.args.lines)]
        if not ctx.args.no_follow:
            cmd.append("-f")
    else:
        cmd = ["systemctl", *scope, verb, SERVICE]
        if not ctx.args.user and os.geteuid() != 0 and verb != "status":
            print(f"needs root: sudo {shlex.join(cmd)}", file=sys.stderr)
            return 1
    completed = subprocess.run(cmd, check=False)
    if completed.returncode == 0 and verb in {"start", "restart"}:
        subprocess.run(["systemctl", *scope, "status", "--no-pager", SERVICE], check=False)
    return completed.returncode
