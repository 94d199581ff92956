"""The kill switch watches every monitor tick, resume clears it, and a reload reaches the components.

All against the fake WEEX and Gemini over HTTP with the real engine; equity falls by debiting the
venue's wallet (a realised loss the engine did not cause, e.g. a manual trade or fees).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from smt_engine.config import Settings, load_settings
from smt_engine.domain import CommandKind, CommandState, EngineState, HealthStatus, ProposalState
from smt_engine.store.records import Command
from tests.fakes.gemini_server import text_reply
from tests.integration.rig import MONITOR_S, Rig, long_eth

WAIT = '{"decision": "WAIT", "confidence": 0.2, "reasoning": "quiet"}'


def debit(rig: Rig, amount: str) -> None:
    rig.fake.venue._acct.wallet -= Decimal(amount)


def state(rig: Rig) -> EngineState:
    current = rig.store.engine.current()
    return current.state if current is not None else EngineState.STARTING


async def command(rig: Rig, kind: CommandKind, args: dict[str, Any] | None = None) -> Command:
    cmd = rig.store.commands.enqueue(kind, rig.clock.now(), "test", args)
    assert cmd.id is not None
    await rig.until(
        lambda: (
            (c := rig.store.commands.get(cmd.id)) is not None
            and c.state in (CommandState.DONE, CommandState.FAILED)
        ),
        60,
    )
    done = rig.store.commands.get(cmd.id)
    assert done is not None
    return done


async def start_waiting(rig: Rig, **risk: Any) -> None:
    rig.gemini.push(text_reply(WAIT))
    await rig.start(settings=rig.settings(risk=risk))
    await rig.until(lambda: state(rig) is EngineState.RUNNING, 30)
    await rig.advance(MONITOR_S)  # a first tick records the day's opening equity


async def test_daily_loss_past_the_limit_halts_with_all_wait_analyses(rig: Rig) -> None:
    await start_waiting(rig, daily_loss_limit_pct="5", max_drawdown_pct="50")
    assert not rig.store.proposals.select(), "every analysis said WAIT"
    debit(rig, "60")  # 1000 -> 940: 6 % lost today
    await rig.until(lambda: state(rig) is EngineState.HALTED, 2 * MONITOR_S)
    halted = rig.store.events.of_kind("engine.halted")[0]
    assert halted.data["reason_code"] == "daily_loss_limit"
    assert "daily loss 6.00%" in (rig.store.engine.current().state_reason or "")
    health = {h.component: h for h in rig.store.health.all()}
    assert health["risk.kill_switch"].status is HealthStatus.DOWN
    # Entries are refused while halted; the monitor keeps running.
    rig.gemini.push(long_eth())
    await command(rig, CommandKind.RUN_CYCLE)
    await rig.until(lambda: bool(rig.store.proposals.select()), 60)
    proposal = rig.store.proposals.select()[0]
    await rig.until(lambda: rig.store.proposals.get(proposal.id).state is ProposalState.DENIED, 30)
    assert "engine_state" in rig.store.proposals.get(proposal.id).reason_codes


async def test_drawdown_past_the_limit_halts(rig: Rig) -> None:
    await start_waiting(rig, daily_loss_limit_pct="50", max_drawdown_pct="5")
    debit(rig, "70")
    await rig.until(lambda: state(rig) is EngineState.HALTED, 2 * MONITOR_S)
    assert rig.store.events.of_kind("engine.halted")[0].data["reason_code"] == "max_drawdown"


async def test_resume_clears_the_halt_says_what_it_cleared_and_counts_from_then(rig: Rig) -> None:
    await start_waiting(rig, daily_loss_limit_pct="5", max_drawdown_pct="50")
    debit(rig, "60")
    await rig.until(lambda: state(rig) is EngineState.HALTED, 2 * MONITOR_S)
    resumed = await command(rig, CommandKind.RESUME)
    assert resumed.state is CommandState.DONE
    assert resumed.result is not None
    assert resumed.result["was"] == "halted"
    assert "daily loss" in resumed.result["cleared"]
    event = rig.store.events.of_kind("engine.resumed")[0]
    assert "daily loss" in event.data["cleared"]
    await rig.advance(3 * MONITOR_S)
    assert state(rig) is EngineState.RUNNING, "the same loss does not trip it again"
    debit(rig, "50")  # 940 -> 890: 5.3 % below the equity at resume
    await rig.until(lambda: state(rig) is EngineState.HALTED, 2 * MONITOR_S)


def _toml(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


async def test_a_reload_of_the_analyst_section_reaches_the_next_analyst_call(
    rig: Rig, tmp_path: Path
) -> None:
    config = tmp_path / "smt.toml"
    data = rig.settings_dict()
    config.write_text(_toml(data))
    rig.gemini.push(text_reply(WAIT))
    await rig.start(settings=load_settings(config), config_path=config)
    await rig.until(lambda: len(rig.gemini.requests) >= 1, 60)
    assert rig.gemini.requests[-1].model == Settings().analyst.model  # the default, before the reload
    data["analyst"]["model"] = "gemini-3.5-flash"
    data["logging"] = {"level": "warning"}
    config.write_text(_toml(data))
    reloaded = await command(rig, CommandKind.RELOAD_CONFIG)
    assert reloaded.state is CommandState.DONE, reloaded.error
    assert reloaded.result is not None
    assert set(reloaded.result["changed"]) == {"analyst", "logging"}
    assert reloaded.result["applied"]["analyst"].startswith("rebuilt")
    assert reloaded.result["needs_restart"] == []
    rig.gemini.push(text_reply(WAIT))
    await command(rig, CommandKind.RUN_CYCLE)
    await rig.until(lambda: len(rig.gemini.requests) >= 2, 60)
    assert rig.gemini.requests[-1].model == "gemini-3.5-flash"


async def test_a_reload_names_what_needs_a_restart(rig: Rig, tmp_path: Path) -> None:
    config = tmp_path / "smt.toml"
    data = rig.settings_dict()
    config.write_text(_toml(data))
    rig.gemini.push(text_reply(WAIT))
    await rig.start(settings=load_settings(config), config_path=config)
    await rig.until(lambda: state(rig) is EngineState.RUNNING, 30)
    data["engine"]["monitor_interval"] = "20s"
    data["exchange"] = {"timeout": "7s"}
    config.write_text(_toml(data))
    reloaded = await command(rig, CommandKind.RELOAD_CONFIG)
    assert reloaded.result is not None
    assert reloaded.result["changed"] == []
    assert set(reloaded.result["needs_restart"]) == {"engine.monitor_interval", "exchange"}
