"""Running `smt venue probe` against a fake WEEX, and fakes that each break one assumption the engine makes.

Each broken fake is the ordinary fake with one answer changed after it was built, so everything else
about it stays true to the docs the ordinary fake follows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smt_engine.cli.main import main
from tests.fakes.weex_server import FakeWeex

LISTEN = "1.5"  # seconds per websocket; the fakes ping every 0.3 s


def configure(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    base_url: str,
    ws_url: str,
    keys: tuple[str, str, str],
    *,
    mode: str = "live",
) -> Path:
    """The operator's setup: keys in the environment, hosts and database in SMT_* overrides."""
    db = tmp_path / "smt.db"
    for name, value in zip(("WEEX_API_KEY", "WEEX_API_SECRET", "WEEX_API_PASSPHRASE"), keys, strict=True):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SMT_ENGINE__MODE", mode)
    monkeypatch.setenv("SMT_ENGINE__DATABASE", str(db))
    monkeypatch.setenv("SMT_EXCHANGE__BASE_URL", base_url)
    monkeypatch.setenv("SMT_EXCHANGE__WS_URL", ws_url)
    return db


def fake_keys(fake: FakeWeex) -> tuple[str, str, str]:
    return fake.api_key, fake.secret, fake.passphrase


def run_probe(
    capsys: pytest.CaptureFixture[str], transcript: Path, *extra: str
) -> tuple[int, dict[str, Any]]:
    """`smt venue probe --json` as an operator runs it; returns the exit code and the JSON printed."""
    capsys.readouterr()
    listen = [] if "--listen" in extra else ["--listen", LISTEN]
    code = main(["venue", "probe", *listen, "--transcript", str(transcript), "--json", *extra])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1])


def steps(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["step"]: s for s in result["steps"]}


class _Rows(FakeWeex):
    """A fake whose answers on some routes are rewritten by ``rewrite`` before they are sent."""

    def rewrite(self, route: str, result: Any) -> Any:
        return result

    def _route(self, method: str, path: str, q: dict[str, str], body: dict[str, Any]) -> Any:
        return self.rewrite(f"{method} {path}", super()._route(method, path, q, body))


class InconsistentStepFake(_Rows):
    """exchangeInfo's ``contractVal`` for DOGEUSDT disagrees with its ``quantityPrecision``."""

    def rewrite(self, route: str, result: Any) -> Any:
        if route == "GET /capi/v3/market/exchangeInfo":
            for row in result["symbols"]:
                if row["symbol"] == "DOGEUSDT":
                    row["contractVal"] = "0.1"
        return result


class WrongStepFake(_Rows):
    """exchangeInfo says SOLUSDT trades in steps of 0.01 (consistently), but the venue enforces 0.1."""

    def rewrite(self, route: str, result: Any) -> Any:
        if route == "GET /capi/v3/market/exchangeInfo":
            for row in result["symbols"]:
                if row["symbol"] == "SOLUSDT":
                    row.update(quantityPrecision=2, contractVal="0.01", minOrderSize="0.01")
        return result


class UnreadableOrderFake(_Rows):
    """Orders come back without their client order id (open orders and history): not found by it."""

    def rewrite(self, route: str, result: Any) -> Any:
        if route in ("GET /capi/v3/openOrders", "GET /capi/v3/order/history"):
            for row in result:
                row["clientOrderId"] = ""
        return result


class AiLogCodeFake(_Rows):
    """uploadAiLog answers with a chosen ``code`` (v3 doc: Integer 0; v2 doc: "00000")."""

    code: Any = 0

    def rewrite(self, route: str, result: Any) -> Any:
        if route.endswith("/order/uploadAiLog"):
            return {**result, "code": self.code}
        return result


class StringPrecisionFake(_Rows):
    """exchangeInfo's numbers as strings, the form of ccxt's live example (``"pricePrecision": "2"``,
    ``"maxLeverage": "400"``; reference §3.1.1) where WEEX's doc shows integers."""

    def rewrite(self, route: str, result: Any) -> Any:
        if route == "GET /capi/v3/market/exchangeInfo":
            for row in result["symbols"]:
                for name in ("pricePrecision", "quantityPrecision", "maxLeverage", "minLeverage"):
                    row[name] = str(row[name])
        return result


class HiddenStopLegFake(_Rows):
    """Attached stop-loss legs are listed nowhere (neither openAlgoOrders nor order detail/history)."""

    def rewrite(self, route: str, result: Any) -> Any:
        if route in ("GET /capi/v3/openAlgoOrders", "GET /capi/v3/order/history"):
            return [r for r in result if r.get("orderType", r.get("type")) != "STOP_MARKET"]
        return result


class StuckCancelFake(_Rows):
    """``DELETE /order`` answers WEEX's documented success (reference §3.3.2) but the order stays open."""

    def _route(self, method: str, path: str, q: dict[str, str], body: dict[str, Any]) -> Any:
        if f"{method} {path}" == "DELETE /capi/v3/order":
            oid = q.get("orderId") or ""
            return {"orderId": oid, "origClientOrderId": q.get("origClientOrderId", ""), "success": True}
        return super()._route(method, path, q, body)
