# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv when missing or stale and
# install exactly the versions in requirements.lock (pip checks every file against its hash).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# `make lock UPGRADE=all` moves every pin to the newest allowed version; `make lock UPGRADE="httpx apprise"`
# only those. Plain `make lock` keeps every pin that still satisfies pyproject.toml.
UPGRADE ?=
UPGRADE_ARGS := $(if $(filter all,$(UPGRADE)),--upgrade,$(foreach p,$(UPGRADE),--upgrade-package $(p)))

.PHONY: demo test lint typecheck unit bench lock mutate clean

# Said once, before the only slow step; pip then shows errors only (-qq): the machine's pip configuration
# can print dozens of warnings that are not the operator's to act on. PIP_DISABLE_PIP_VERSION_CHECK drops
# the "new pip available" notice for the same reason.
PIP := PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/python -m pip
$(STAMP): pyproject.toml $(LOCK)
	@echo "Installing SMT and its pinned dependencies into $(VENV) (about a minute; again only when they change)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP) install -qq --require-hashes -r $(LOCK)
	@$(PIP) install -qq --no-deps --no-build-isolation -e .
	@touch $(STAMP)
	@echo "Installed."

demo: $(STAMP)
	$(BIN)/smt demo

test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check smt_engine smt_tui tests bench
	$(BIN)/ruff format --check smt_engine smt_tui tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Coverage of smt_engine and smt_tui by the whole suite (pytest-cov); the total is printed last.
unit: $(STAMP)
	$(BIN)/python -m pytest -q --cov --cov-report=
	@echo "coverage (statements, smt_engine + smt_tui): $$($(BIN)/coverage report --format=total)%"

bench: $(STAMP)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

# Resolve pyproject.toml's dependencies (runtime, dev, and the build backend) into pins with hashes.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --extra dev --generate-hashes --allow-unsafe \
		--build-deps-for editable --no-emit-index-url --no-emit-find-links $(UPGRADE_ARGS) \
		--output-file $(LOCK) pyproject.toml

# Mutation testing of the money paths (pyproject.toml [tool.mutmut] lists the files and the tests that
# may run; mutmut runs, for each mutant, only those tests that reach its function, fastest first). By
# default the modules behind the README's safety claims (stop guard, order desk, settling, operator
# commands, in-flight tracker, reconciliation, monitor tick, pushed closes, leg tracking, orphan sweep,
# price plausibility, execution, protection, closing, kill switch, engine lock, database identity, the
# order and position rows, the account reader, proposals, the shutdown drain, the WEEX transport's
# no-retry of order creation, the manual entry handler, the risk gates and loss figures, the edge
# gate with its calibration and interval, Decimal rounding, the store's redaction, the AI log, the risk
# inputs, manual entries and position adjustments, the engine's run, shutdown, start-up reconcile,
# heartbeat, monitor pacing, halt and resume, the stream supervisor, streamed prices, the analyst
# answer parser and the log set-up, the WEEX client's reads and public data, the engine's loops, the
# pipeline's price reads, the analysis record, the exit codes and the database-lost notice, the store
# queries, WEEX's REST ticker and klines, its error mapping and row parsing, the confidence rounding,
# the WEEX websocket stream, the notification rules and notifier, the stop and exit paths of smt, smt
# engine and the demo, the kill switch's store reads, what each model call records; docs/benchmarks.md
# has the counts and times).
# `make mutate MUTANTS=all` takes every file listed (20,224 mutants; the default 16,316: hours). mutants/ keeps which test
# reaches which function between runs, but every mutant named (by default the whole scope) is checked
# again; name one function to recheck only it,
# e.g. `make mutate MUTANTS='smt_engine.trading.position_guard.xǁPositionGuardǁensure_stop*'`.
# `.venv/bin/mutmut results` lists the survivors, `.venv/bin/mutmut show NAME` one diff.
MUTANTS ?= smt_engine.trading.position_guard* smt_engine.trading.order_desk* \
	smt_engine.trading.settle* smt_engine.commands.trading_handlers* smt_engine.trading.inflight* \
	smt_engine.trading.reconcile* smt_engine.trading.monitor* smt_engine.trading.legs* \
	smt_engine.trading.orphans* smt_engine.trading.pushed* \
	smt_engine.exchange.market.plausibility* smt_engine.trading.execution* \
	smt_engine.trading.protection* smt_engine.trading.closing* smt_engine.trading.kill_switch* \
	smt_engine.store.lock* smt_engine.store.identity* smt_engine.trading.orders* \
	smt_engine.trading.account_reader* smt_engine.trading.proposals* smt_engine.trading.shielded* \
	smt_engine.exchange.weex.transport* smt_engine.commands.entry_handlers* \
	smt_engine.trading.risk.* smt_engine.trading.limits* smt_engine.trading.loss_limits* \
	smt_engine.trading.cooldowns* smt_engine.competition* smt_engine.trading.edge_gate* \
	smt_engine.trading.evidence* smt_engine.scorecard.calibration* smt_engine.scorecard.stats.x_mean_interval* \
	smt_engine.exchange.precision* smt_engine.store.codec* smt_engine.secrets* smt_engine.trading.ailog* \
	smt_engine.trading.account.* smt_engine.exchange.ids* \
	smt_engine.trading.risk_inputs* smt_engine.trading.manual_entry* smt_engine.trading.adjust* \
	smt_engine.commands.adjust_handlers* smt_engine.commands.engine_handlers* \
	smt_engine.engine.xǁEngineǁ_run* smt_engine.engine.xǁEngineǁ_shutdown* \
	smt_engine.engine.xǁEngineǁ_reconcile_until_ok* smt_engine.engine.xǁEngineǁ_heartbeat_loop* \
	smt_engine.engine.xǁEngineǁ_monitor_period* smt_engine.engine.xǁEngineǁ_monitor_wait* \
	smt_engine.engine.xǁEngineǁhalt* smt_engine.exchange.weex.supervisor* \
	smt_engine.exchange.market.streamed* smt_engine.analyst.parse* smt_engine.logsetup* \
	smt_engine.exchange.weex.client* smt_engine.engine.xǁEngineǁrun* \
	smt_engine.engine.xǁEngineǁ_monitor_loop* smt_engine.engine.xǁEngineǁ_command_loop* \
	smt_engine.engine.xǁEngineǁinstall_signal_handlers* smt_engine.engine.xǁEngineǁ_on_signal* \
	smt_engine.engine.xǁEngineǁhandle* smt_engine.engine.xǁEngineǁ_on_reload_signal* \
	smt_engine.engine.xǁEngineǁ_sleep_or_stop* smt_engine.engine.xǁEngineǁ_limits_loop* \
	smt_engine.engine.xǁEngineǁ_tick* smt_engine.engine.xǁEngineǁ_upload_loop* \
	smt_engine.engine.xǁEngineǁstop* smt_engine.engine.xǁEngineǁrequest_cycle* \
	smt_engine.pipeline.xǁPipelineǁ_market* \
	smt_engine.pipeline.xǁPipelineǁ_prices_now* smt_engine.exchange.weex.public* \
	smt_engine.exchange.base* smt_engine.exchange.paper.book_price* \
	smt_engine.analyst.base.x_record_analysis* smt_engine.notify.rules.xǁRulesǁ_database_lost* \
	smt_engine.cli.context.x_exit_code_for* smt_engine.demo.x_engine_stop_wait* \
	smt_engine.store.trading.xǁOrdersRepoǁopen_orders* smt_engine.store.trading.xǁProposalsRepoǁin_state* \
	smt_engine.store.trading.xǁPositionsRepoǁopen_positions* smt_engine.store.trading.xǁPositionsRepoǁopen_for* \
	smt_engine.store.trading.xǁPositionsRepoǁlast_stop_losses* smt_engine.store.base.xǁRepoǁwrite_row* \
	smt_engine.store.base.xǁRepoǁinsert* smt_engine.store.base.xǁRepoǁupdate* \
	smt_engine.store.events.xǁEventsRepoǁappend* smt_engine.exchange.market.live* \
	smt_engine.exchange.weex.errors* smt_engine.domain.x_round_confidence* \
	smt_engine.exchange.weex.parsing* smt_engine.exchange.weex.streams.xǁWeexStreamǁrun* \
	smt_engine.exchange.weex.streams.xǁWeexStreamǁ_session* smt_engine.exchange.weex.streams.xǁWeexStreamǁ_handle* \
	smt_engine.exchange.weex.streams.x_message_of* smt_engine.exchange.weex.streams.x_parse_frame* \
	smt_engine.exchange.weex.streams.x_is_ping* smt_engine.exchange.weex.streams.x_is_control* \
	smt_engine.notify.rules.xǁRulesǁ__init__* smt_engine.notify.rules.xǁRulesǁdraft* \
	smt_engine.notify.rules.xǁRulesǁ_proposal_waiting* smt_engine.notify.rules.xǁRulesǁ_entry_filled* \
	smt_engine.notify.rules.xǁRulesǁ_position_closed* smt_engine.notify.rules.xǁRulesǁ_halted* \
	smt_engine.notify.rules.xǁRulesǁ_resumed* smt_engine.notify.rules.xǁRulesǁ_started* \
	smt_engine.notify.rules.xǁRulesǁ_stopped* smt_engine.notify.rules.xǁRulesǁ_crash_restart* \
	smt_engine.notify.rules.xǁRulesǁ_degraded* smt_engine.notify.rules.xǁRulesǁstream_down* \
	smt_engine.notify.notifier.xǁNotifierǁtick* smt_engine.notify.notifier.xǁNotifierǁflush* \
	smt_engine.notify.notifier.xǁNotifierǁderive* smt_engine.notify.notifier.xǁNotifierǁ_draft* \
	smt_engine.notify.notifier.xǁNotifierǁcheck_streams* smt_engine.notify.notifier.xǁNotifierǁ_wanted* \
	smt_engine.notify.notifier.xǁNotifierǁ_enqueue* smt_engine.notify.notifier.xǁNotifierǁdeliver* \
	smt_engine.notify.notifier.xǁNotifierǁ_deliver_channel* \
	smt_engine.notify.notifier.xǁNotifierǁ_notice_id* smt_engine.notify.notifier.xǁNotifierǁ_record* \
	smt_engine.demo.x_run_interactive* smt_engine.demo.x_run_engine* smt_engine.cli.main.x_main* \
	smt_engine.cli.engine.x_cmd_engine* smt_engine.store.venue.xǁAccountRepoǁlast_before* \
	smt_engine.store.venue.xǁAccountRepoǁfirst_since* smt_engine.store.venue.xǁAccountRepoǁpeak_equity* \
	smt_engine.store.kill_switch.xǁKillSwitchRepoǁlatest* \
	smt_engine.store.cooldowns.xǁCooldownClearancesRepoǁcleared* \
	smt_engine.analyst.gemini.xǁGeminiAnalystǁ_call_and_record* \
	smt_engine.analyst.gemini.xǁGeminiAnalystǁ_record_usage* \
	smt_engine.analyst.gemini.xǁGeminiAnalystǁ_read_response* smt_engine.analyst.gemini.x__answering_model* \
	smt_engine.analyst.gemini.x__answer_parts* smt_engine.analyst.gemini.x__candidate_text* \
	smt_engine.analyst.gemini.x__dump* smt_engine.exchange.weex.streams.xǁWeexStreamǁ_read* \
	smt_engine.exchange.weex.streams.xǁWeexStreamǁ_next_frame* smt_engine.exchange.weex.streams.xǁWeexStreamǁ_malformed* \
	smt_engine.exchange.weex.streams.xǁWeexStreamǁ_keepalive* smt_engine.exchange.weex.streams.xǁWeexStreamǁ_ponged* \
	smt_engine.exchange.weex.streams.xǁWeexStreamǁ_serve_* smt_engine.exchange.weex.streams.xǁWeexStreamǁ_subscribe* \
	smt_engine.exchange.weex.streams.xǁWeexStreamǁ_set* smt_engine.exchange.weex.streams.xǁWeexStreamǁ_touch* \
	smt_engine.notify.notifier.x_backoff* smt_engine.notify.notifier.xǁNotifierǁ__init__* \
	smt_engine.notify.notifier.xǁNotifierǁrun*
mutate: $(STAMP)
	$(BIN)/mutmut run --max-children 2 $(if $(filter all,$(MUTANTS)),,$(foreach m,$(MUTANTS),"$(m)"))
	$(BIN)/mutmut export-cicd-stats
	@cat mutants/mutmut-cicd-stats.json; echo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache mutants .coverage
