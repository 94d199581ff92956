"""Numbered schema migrations. Append new ones; never edit one that has shipped.

Money and prices are TEXT (exact ``Decimal``); times are UTC ISO text; JSON columns are TEXT.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "database contract v1",
        """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE engine (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER, host TEXT, mode TEXT NOT NULL, state TEXT NOT NULL, approval TEXT,
    started_at TEXT, heartbeat_at TEXT, next_cycle_at TEXT, last_cycle_at TEXT,
    state_reason TEXT, last_error TEXT
);

CREATE TABLE contracts (
    symbol TEXT PRIMARY KEY, step_size TEXT NOT NULL, tick_size TEXT NOT NULL, min_size TEXT NOT NULL,
    max_size TEXT, min_notional TEXT NOT NULL DEFAULT '0', max_leverage INTEGER NOT NULL,
    fetched_at TEXT NOT NULL
);

CREATE TABLE account_snapshots (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, balance TEXT NOT NULL, equity TEXT NOT NULL,
    available TEXT NOT NULL, unrealized_pnl TEXT NOT NULL, margin_used TEXT NOT NULL
);
CREATE INDEX account_snapshots_at ON account_snapshots(at);

CREATE TABLE cycles (
    id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
    steps TEXT NOT NULL DEFAULT '{}', error TEXT, trigger TEXT NOT NULL
);
CREATE INDEX cycles_started ON cycles(started_at);

CREATE TABLE whale_transfers (
    id INTEGER PRIMARY KEY, tx_hash TEXT NOT NULL, from_address TEXT NOT NULL, to_address TEXT NOT NULL,
    value_eth TEXT NOT NULL, block INTEGER NOT NULL, at TEXT NOT NULL, exchange_label TEXT,
    direction TEXT, cycle_id TEXT,
    UNIQUE (tx_hash, from_address, to_address)
);
CREATE INDEX whale_transfers_at ON whale_transfers(at);

CREATE TABLE whales (
    address TEXT PRIMARY KEY, label TEXT, whale_class TEXT NOT NULL, class_confidence REAL NOT NULL,
    classified_by TEXT NOT NULL, model_version TEXT, features TEXT NOT NULL DEFAULT '{}',
    volume_eth TEXT NOT NULL DEFAULT '0', first_seen_at TEXT NOT NULL, updated_at TEXT NOT NULL
);

CREATE TABLE whale_signals (
    id INTEGER PRIMARY KEY, cycle_id TEXT NOT NULL, at TEXT NOT NULL, address TEXT, whale_class TEXT,
    flow TEXT, net_eth TEXT NOT NULL, inflow_eth TEXT NOT NULL, outflow_eth TEXT NOT NULL,
    bias TEXT NOT NULL, confidence REAL NOT NULL, reasoning TEXT NOT NULL, is_aggregate INTEGER NOT NULL
);
CREATE INDEX whale_signals_cycle ON whale_signals(cycle_id);

CREATE TABLE analyses (
    id INTEGER PRIMARY KEY, cycle_id TEXT, pair TEXT NOT NULL, analyst TEXT NOT NULL, model TEXT NOT NULL,
    created_at TEXT NOT NULL, action TEXT NOT NULL, confidence REAL NOT NULL, prompt TEXT NOT NULL,
    raw_response TEXT, decision TEXT, grounded INTEGER NOT NULL, queries TEXT NOT NULL DEFAULT '[]',
    sources TEXT NOT NULL DEFAULT '[]', usage TEXT NOT NULL DEFAULT '{}', latency_ms INTEGER,
    attempts INTEGER NOT NULL, error TEXT
);
CREATE INDEX analyses_cycle ON analyses(cycle_id);
CREATE INDEX analyses_pair ON analyses(pair, created_at);

CREATE TABLE proposals (
    id INTEGER PRIMARY KEY, cycle_id TEXT, analysis_id INTEGER REFERENCES analyses(id),
    pair TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, confidence REAL NOT NULL,
    margin TEXT NOT NULL, notional TEXT NOT NULL, leverage INTEGER NOT NULL, size TEXT NOT NULL,
    entry_ref TEXT NOT NULL, tp_price TEXT NOT NULL, sl_price TEXT NOT NULL, tp_pct TEXT NOT NULL,
    sl_pct TEXT NOT NULL, state TEXT NOT NULL, source TEXT NOT NULL, reason_codes TEXT NOT NULL DEFAULT '[]',
    gates TEXT NOT NULL DEFAULT '[]', rationale TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL,
    expires_at TEXT, decided_at TEXT, decided_by TEXT
);
CREATE INDEX proposals_state ON proposals(state);

CREATE TABLE positions (
    id INTEGER PRIMARY KEY, symbol TEXT NOT NULL, side TEXT NOT NULL, size TEXT NOT NULL,
    entry_price TEXT NOT NULL, opened_at TEXT NOT NULL, state TEXT NOT NULL, leverage INTEGER NOT NULL,
    margin TEXT NOT NULL, tp_price TEXT, sl_price TEXT, tp_order_id TEXT, sl_order_id TEXT,
    mark_price TEXT, unrealized_pnl TEXT NOT NULL DEFAULT '0', proposal_id INTEGER REFERENCES proposals(id),
    adopted INTEGER NOT NULL DEFAULT 0, close_reason TEXT, close_order_id TEXT, closed_at TEXT,
    exit_price TEXT, realized_pnl TEXT, updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX positions_one_open ON positions(symbol, side) WHERE state != 'closed';
CREATE INDEX positions_closed_at ON positions(closed_at);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY, client_order_id TEXT NOT NULL UNIQUE, exchange_order_id TEXT,
    proposal_id INTEGER REFERENCES proposals(id), position_id INTEGER REFERENCES positions(id),
    symbol TEXT NOT NULL, side TEXT NOT NULL, kind TEXT NOT NULL, size TEXT NOT NULL, price TEXT,
    trigger_price TEXT, state TEXT NOT NULL, request TEXT NOT NULL DEFAULT '{}', response TEXT, error TEXT,
    orphan INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX orders_state ON orders(state);
CREATE INDEX orders_exchange_id ON orders(exchange_order_id);

CREATE TABLE commands (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, args TEXT NOT NULL DEFAULT '{}', actor TEXT NOT NULL,
    created_at TEXT NOT NULL, state TEXT NOT NULL, claimed_at TEXT, completed_at TEXT, result TEXT, error TEXT
);
CREATE INDEX commands_state ON commands(state, id);

CREATE TABLE events (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, level TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL,
    cycle_id TEXT, proposal_id INTEGER, order_id INTEGER, position_id INTEGER, data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_at ON events(at);

CREATE TABLE ai_logs (
    id INTEGER PRIMARY KEY, stage TEXT NOT NULL, model TEXT NOT NULL, input TEXT NOT NULL,
    output TEXT NOT NULL,
    explanation TEXT NOT NULL CHECK (length(explanation) <= 1000), order_id TEXT, cycle_id TEXT,
    state TEXT NOT NULL, attempts INTEGER NOT NULL, last_error TEXT, next_attempt_at TEXT, sent_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX ai_logs_state ON ai_logs(state, next_attempt_at);
""",
    ),
    (
        3,
        "whale history cache: per-address transfers and how far each (address, kind) is synced",
        """
CREATE TABLE whale_history (
    address TEXT NOT NULL, uid TEXT NOT NULL, kind TEXT NOT NULL, tx_hash TEXT NOT NULL,
    block INTEGER NOT NULL,
    at TEXT NOT NULL, from_address TEXT NOT NULL, to_address TEXT NOT NULL, value TEXT NOT NULL,
    token_symbol TEXT NOT NULL, token_contract TEXT NOT NULL, gas_used INTEGER NOT NULL,
    is_error INTEGER NOT NULL, seq TEXT NOT NULL,
    PRIMARY KEY (address, uid)
);
CREATE INDEX whale_history_addr_at ON whale_history(address, at);
CREATE INDEX whale_history_at ON whale_history(at);

CREATE TABLE whale_history_sync (
    address TEXT NOT NULL, kind TEXT NOT NULL, from_block INTEGER NOT NULL, to_block INTEGER NOT NULL,
    synced_at TEXT NOT NULL,
    PRIMARY KEY (address, kind)
);
""",
    ),
    (
        4,
        "component health: one row per engine component (exchange, streams, analyst, feeds, notifier)",
        """
CREATE TABLE health (
    component TEXT PRIMARY KEY, status TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
    since TEXT NOT NULL, updated_at TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}'
);
""",
    ),
    (
        5,
        "kill switch: each resume that cleared a halt, and the equity its loss limits count from",
        """
CREATE TABLE kill_switch_resets (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, cleared TEXT NOT NULL,
    equity TEXT
);
""",
    ),
    (
        6,
        "venue facts: what the exchange client learned and keeps across restarts (e.g. the AI-log path)",
        """
CREATE TABLE venue_facts (key TEXT PRIMARY KEY, value TEXT NOT NULL, learned_at TEXT NOT NULL);
""",
    ),
    (
        7,
        "scorecard: analyst usage and cost per call, market prices seen, scores of every decision, reports",
        """
CREATE TABLE analyst_usage (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, day TEXT NOT NULL, analysis_id INTEGER, model TEXT NOT NULL,
    requests INTEGER NOT NULL, answered INTEGER NOT NULL, input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL, thinking_tokens INTEGER NOT NULL, search_queries INTEGER NOT NULL,
    cost_usd TEXT NOT NULL, priced INTEGER NOT NULL
);
CREATE INDEX analyst_usage_day ON analyst_usage(day);

CREATE TABLE candles (
    symbol TEXT NOT NULL, interval TEXT NOT NULL, open_time TEXT NOT NULL, close_time TEXT NOT NULL,
    open TEXT NOT NULL, high TEXT NOT NULL, low TEXT NOT NULL, close TEXT NOT NULL, volume TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (symbol, interval, open_time)
);
CREATE INDEX candles_close ON candles(symbol, close_time);

CREATE TABLE prices (
    id INTEGER PRIMARY KEY, symbol TEXT NOT NULL, at TEXT NOT NULL, price TEXT NOT NULL,
    cycle_id TEXT
);
CREATE INDEX prices_symbol_at ON prices(symbol, at);

CREATE TABLE scores (
    id INTEGER PRIMARY KEY, subject TEXT NOT NULL, subject_id INTEGER NOT NULL, horizon TEXT NOT NULL,
    pair TEXT NOT NULL, tier TEXT NOT NULL, analyst TEXT NOT NULL, model TEXT NOT NULL,
    direction TEXT NOT NULL, confidence REAL NOT NULL, signal_agrees TEXT NOT NULL,
    decided_at TEXT NOT NULL, due_at TEXT NOT NULL, ref_price TEXT NOT NULL, exit_price TEXT NOT NULL,
    move_pct REAL NOT NULL, return_pct REAL, hit INTEGER NOT NULL, outcome TEXT, state TEXT,
    cycle_id TEXT, scored_at TEXT NOT NULL,
    UNIQUE (subject, subject_id, horizon)
);
CREATE INDEX scores_decided ON scores(decided_at);

CREATE TABLE scorecard_reports (id INTEGER PRIMARY KEY, at TEXT NOT NULL, report TEXT NOT NULL);

ALTER TABLE analyses ADD COLUMN search_entry_point TEXT;
ALTER TABLE analyses ADD COLUMN search_suggestions TEXT NOT NULL DEFAULT '[]';
""",
    ),
    (
        8,
        "limits: what the engine enforces right now, published for the console and `smt status`",
        """
CREATE TABLE limits (
    name TEXT PRIMARY KEY, value TEXT NOT NULL, unit TEXT NOT NULL, used TEXT,
    detail TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL
);
""",
    ),
    (
        9,
        "notifications outbox (one row per notice and channel) and persisted read cursors",
        """
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, level TEXT NOT NULL, channel TEXT NOT NULL,
    topic TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, dedup_key TEXT NOT NULL,
    event_id INTEGER, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    created_at TEXT NOT NULL, next_attempt_at TEXT, sent_at TEXT,
    UNIQUE (dedup_key, channel)
);
CREATE INDEX notifications_channel_state ON notifications(channel, state, id);
CREATE INDEX notifications_topic ON notifications(channel, kind, topic, created_at);

CREATE TABLE cursors (name TEXT PRIMARY KEY, position INTEGER NOT NULL, updated_at TEXT NOT NULL);
""",
    ),
    (
        11,
        "exchange flows: net flow of each asset into labelled exchange wallets, per window and cycle",
        """
CREATE TABLE exchange_flows (
    id INTEGER PRIMARY KEY, cycle_id TEXT NOT NULL, at TEXT NOT NULL, window_hours INTEGER NOT NULL,
    asset TEXT NOT NULL, inflow TEXT NOT NULL, outflow TEXT NOT NULL, net TEXT NOT NULL,
    transfers INTEGER NOT NULL, wallets INTEGER NOT NULL,
    UNIQUE (cycle_id, window_hours, asset)
);
CREATE INDEX exchange_flows_series ON exchange_flows(asset, window_hours, at);
""",
    ),
    (
        12,
        "flow history (hourly net flow per asset, backfilled); scores indexed by subject and horizon",
        """
CREATE TABLE flow_history (
    hour TEXT NOT NULL, asset TEXT NOT NULL, inflow TEXT NOT NULL, outflow TEXT NOT NULL,
    net TEXT NOT NULL, transfers INTEGER NOT NULL, wallets INTEGER NOT NULL, recorded_at TEXT NOT NULL,
    PRIMARY KEY (hour, asset)
);
CREATE INDEX scores_record ON scores(subject, horizon, decided_at);
""",
    ),
    (
        13,
        "market history for backtests (kept apart from the bars the engine saw) and backtest records",
        """
CREATE TABLE market_history (
    symbol TEXT NOT NULL, interval TEXT NOT NULL, open_time TEXT NOT NULL,
    open TEXT NOT NULL, high TEXT NOT NULL, low TEXT NOT NULL, close TEXT NOT NULL, volume TEXT NOT NULL,
    source TEXT NOT NULL, stored_at TEXT NOT NULL,
    PRIMARY KEY (symbol, interval, open_time)
);

CREATE TABLE backtest_runs (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, data_from TEXT NOT NULL, data_to TEXT NOT NULL,
    interval TEXT NOT NULL, settings TEXT NOT NULL, summary TEXT NOT NULL
);

CREATE TABLE backtest_records (
    run_id INTEGER NOT NULL, source TEXT NOT NULL, pair TEXT NOT NULL, horizon TEXT NOT NULL,
    deterministic INTEGER NOT NULL, n INTEGER NOT NULL, directional INTEGER NOT NULL,
    mean_return_pct REAL, ci_low REAL, ci_high REAL, hit_rate REAL, brier REAL,
    data_from TEXT NOT NULL, data_to TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (run_id, source, pair, horizon)
);
CREATE INDEX backtest_records_latest ON backtest_records(source, pair, horizon, run_id);
""",
    ),
    (
        14,
        "bounded reads: indexes for orders of a position and last stops, per-table change counters for "
        "the console, and the peak equity kept as it grows (all time and since the last kill-switch reset)",
        """
CREATE INDEX orders_position ON orders(position_id);
CREATE INDEX positions_stop ON positions(close_reason, symbol, closed_at);
CREATE INDEX analyses_created ON analyses(created_at);
CREATE INDEX proposals_created ON proposals(created_at);
CREATE INDEX whale_signals_at ON whale_signals(at);

CREATE TABLE table_changes (name TEXT PRIMARY KEY, changes INTEGER NOT NULL);
INSERT INTO table_changes (name, changes) VALUES
    ('engine', 0), ('cycles', 0), ('account_snapshots', 0), ('positions', 0), ('proposals', 0),
    ('analyses', 0), ('health', 0), ('limits', 0), ('whale_transfers', 0), ('whales', 0),
    ('whale_signals', 0), ('orders', 0), ('events', 0), ('commands', 0), ('positions.closed', 0);
CREATE TRIGGER table_changes_engine_insert AFTER INSERT ON engine BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'engine';
END;
CREATE TRIGGER table_changes_engine_update AFTER UPDATE ON engine BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'engine';
END;
CREATE TRIGGER table_changes_engine_delete AFTER DELETE ON engine BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'engine';
END;
CREATE TRIGGER table_changes_cycles_insert AFTER INSERT ON cycles BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'cycles';
END;
CREATE TRIGGER table_changes_cycles_update AFTER UPDATE ON cycles BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'cycles';
END;
CREATE TRIGGER table_changes_cycles_delete AFTER DELETE ON cycles BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'cycles';
END;
CREATE TRIGGER table_changes_account_snapshots_insert AFTER INSERT ON account_snapshots BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'account_snapshots';
END;
CREATE TRIGGER table_changes_account_snapshots_update AFTER UPDATE ON account_snapshots BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'account_snapshots';
END;
CREATE TRIGGER table_changes_account_snapshots_delete AFTER DELETE ON account_snapshots BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'account_snapshots';
END;
CREATE TRIGGER table_changes_positions_insert AFTER INSERT ON positions BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'positions';
END;
CREATE TRIGGER table_changes_positions_update AFTER UPDATE ON positions BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'positions';
END;
CREATE TRIGGER table_changes_positions_delete AFTER DELETE ON positions BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'positions';
END;
CREATE TRIGGER table_changes_proposals_insert AFTER INSERT ON proposals BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'proposals';
END;
CREATE TRIGGER table_changes_proposals_update AFTER UPDATE ON proposals BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'proposals';
END;
CREATE TRIGGER table_changes_proposals_delete AFTER DELETE ON proposals BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'proposals';
END;
CREATE TRIGGER table_changes_analyses_insert AFTER INSERT ON analyses BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'analyses';
END;
CREATE TRIGGER table_changes_analyses_update AFTER UPDATE ON analyses BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'analyses';
END;
CREATE TRIGGER table_changes_analyses_delete AFTER DELETE ON analyses BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'analyses';
END;
CREATE TRIGGER table_changes_health_insert AFTER INSERT ON health BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'health';
END;
CREATE TRIGGER table_changes_health_update AFTER UPDATE ON health BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'health';
END;
CREATE TRIGGER table_changes_health_delete AFTER DELETE ON health BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'health';
END;
CREATE TRIGGER table_changes_limits_insert AFTER INSERT ON limits BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'limits';
END;
CREATE TRIGGER table_changes_limits_update AFTER UPDATE ON limits BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'limits';
END;
CREATE TRIGGER table_changes_limits_delete AFTER DELETE ON limits BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'limits';
END;
CREATE TRIGGER table_changes_whale_transfers_insert AFTER INSERT ON whale_transfers BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'whale_transfers';
END;
CREATE TRIGGER table_changes_whale_transfers_update AFTER UPDATE ON whale_transfers BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'whale_transfers';
END;
CREATE TRIGGER table_changes_whale_transfers_delete AFTER DELETE ON whale_transfers BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'whale_transfers';
END;
CREATE TRIGGER table_changes_whales_insert AFTER INSERT ON whales BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'whales';
END;
CREATE TRIGGER table_changes_whales_update AFTER UPDATE ON whales BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'whales';
END;
CREATE TRIGGER table_changes_whales_delete AFTER DELETE ON whales BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'whales';
END;
CREATE TRIGGER table_changes_whale_signals_insert AFTER INSERT ON whale_signals BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'whale_signals';
END;
CREATE TRIGGER table_changes_whale_signals_update AFTER UPDATE ON whale_signals BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'whale_signals';
END;
CREATE TRIGGER table_changes_whale_signals_delete AFTER DELETE ON whale_signals BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'whale_signals';
END;
CREATE TRIGGER table_changes_orders_insert AFTER INSERT ON orders BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'orders';
END;
CREATE TRIGGER table_changes_orders_update AFTER UPDATE ON orders BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'orders';
END;
CREATE TRIGGER table_changes_orders_delete AFTER DELETE ON orders BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'orders';
END;
CREATE TRIGGER table_changes_events_insert AFTER INSERT ON events BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'events';
END;
CREATE TRIGGER table_changes_events_update AFTER UPDATE ON events BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'events';
END;
CREATE TRIGGER table_changes_events_delete AFTER DELETE ON events BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'events';
END;
CREATE TRIGGER table_changes_commands_insert AFTER INSERT ON commands BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'commands';
END;
CREATE TRIGGER table_changes_commands_update AFTER UPDATE ON commands BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'commands';
END;
CREATE TRIGGER table_changes_commands_delete AFTER DELETE ON commands BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'commands';
END;
CREATE TRIGGER table_changes_positions_closed_insert AFTER INSERT ON positions WHEN NEW.state = 'closed' BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'positions.closed';
END;
CREATE TRIGGER table_changes_positions_closed_update AFTER UPDATE ON positions
WHEN NEW.state = 'closed' OR OLD.state = 'closed' BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'positions.closed';
END;
CREATE TRIGGER table_changes_positions_closed_delete AFTER DELETE ON positions WHEN OLD.state = 'closed' BEGIN
    UPDATE table_changes SET changes = changes + 1 WHERE name = 'positions.closed';
END;

CREATE TABLE account_peaks (
    scope TEXT PRIMARY KEY, since TEXT, snapshot_id INTEGER, at TEXT, equity TEXT
);
INSERT INTO account_peaks (scope, since, snapshot_id, at, equity)
    SELECT 'all', NULL, id, at, equity FROM account_snapshots ORDER BY CAST(equity AS REAL) DESC LIMIT 1;
INSERT INTO account_peaks (scope, since, snapshot_id, at, equity)
    SELECT 'reset', r.at, s.id, s.at, s.equity
    FROM (SELECT at FROM kill_switch_resets ORDER BY id DESC LIMIT 1) r
    LEFT JOIN account_snapshots s ON s.id = (
        SELECT id FROM account_snapshots WHERE at >= r.at ORDER BY CAST(equity AS REAL) DESC LIMIT 1
    );
CREATE TRIGGER account_peaks_snapshot AFTER INSERT ON account_snapshots BEGIN
    INSERT OR IGNORE INTO account_peaks (scope, since, snapshot_id, at, equity)
        VALUES ('all', NULL, NEW.id, NEW.at, NEW.equity);
    UPDATE account_peaks SET snapshot_id = NEW.id, at = NEW.at, equity = NEW.equity
        WHERE (scope = 'all' OR (scope = 'reset' AND NEW.at >= since))
        AND (equity IS NULL OR CAST(NEW.equity AS REAL) > CAST(equity AS REAL));
END;
CREATE TRIGGER account_peaks_reset AFTER INSERT ON kill_switch_resets BEGIN
    INSERT OR REPLACE INTO account_peaks (scope, since, snapshot_id, at, equity)
        SELECT 'reset', NEW.at, s.id, s.at, s.equity
        FROM (SELECT 1) LEFT JOIN account_snapshots s ON s.id = (
            SELECT id FROM account_snapshots WHERE at >= NEW.at ORDER BY CAST(equity AS REAL) DESC LIMIT 1
        );
END;
""",
    ),
    (
        15,
        "the engine declares its heartbeat period, so a console judges staleness by the engine's own cadence",
        """
ALTER TABLE engine ADD COLUMN heartbeat_s REAL;
""",
    ),
    (
        16,
        "stop-loss cooldowns the operator cleared (the cooldown gate skips a cleared stop)",
        """
CREATE TABLE cooldown_clearances (
    id INTEGER PRIMARY KEY, symbol TEXT NOT NULL, stop_at TEXT NOT NULL, cleared_at TEXT NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX cooldown_clearances_symbol ON cooldown_clearances(symbol, stop_at);
""",
    ),
    (
        17,
        "recorded exchange flows by time, so the scorecard reads only the flows of its window that are due",
        """
CREATE INDEX exchange_flows_at ON exchange_flows(at);
""",
    ),
]
