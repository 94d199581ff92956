"""Grounding supports to character offsets: parts, byte offsets and what cannot be placed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from smt_engine.analyst.citations import Supports, cite_fields, read_supports


def supports(*items: tuple[int | None, int | None, list[int]]) -> Any:
    return SimpleNamespace(
        grounding_supports=[
            SimpleNamespace(
                segment=SimpleNamespace(part_index=part, start_index=0, end_index=end),
                grounding_chunk_indices=chunks,
            )
            for part, end, chunks in items
        ]
    )


def test_offsets_are_bytes_within_their_part_and_thoughts_are_skipped() -> None:
    parts = [None, "Hi. ", "Prix 5 € ok."]
    end = len("Prix 5 € ok.".encode())  # 14 bytes, 12 characters
    out = read_supports(supports((2, end, [1]), (0, 2, [0])), parts, {0: 1, 1: 2})
    assert [(c.end, c.sources) for c in out.citations] == [(len("Hi. ") + 12, (2,))]
    assert out.notes == ["support 1: part 0 is not a text part of the answer"]


def test_an_end_inside_a_character_or_without_chunks_is_noted() -> None:
    parts = ["€ ok"]
    out = read_supports(supports((0, 1, [0]), (None, None, [0]), (0, 3, [4])), parts, {0: 1})
    assert out.citations == []
    assert out.notes == [
        "support 0: end 1 falls inside a multi-byte character",
        "support 1: no segment end",
        "support 2: chunk 4 is not a listed source",
    ]


def test_supports_ending_at_one_place_share_one_run_of_markers() -> None:
    text = '{"reasoning": "Up [4]. Down."}'
    end = len('{"reasoning": "Up')
    found = read_supports(supports((0, end, [1, 0]), (0, end, [0, 2])), [text], {0: 1, 1: 2, 2: 3})
    assert cite_fields({"reasoning": "Up [4]. Down."}, text, found) == {"reasoning": "Up[2][1][3]. Down."}


def test_no_supports_still_removes_the_models_markers() -> None:
    text = '{"reasoning": "Up [4]. Down [cite: 1, 2]."}'
    out = cite_fields({"reasoning": "Up [4]. Down [cite: 1, 2]."}, text, Supports([], []))
    assert out == {"reasoning": "Up. Down."}


def test_the_form_docs_analyst_md_shows() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "analyst.md").read_text()
    example = "Inflows rose.[3] Funding flat.[2][1]"
    assert f"one bracket per source, `{example}`" in doc
    text = '{"reasoning": "Inflows rose. Funding flat."}'
    first, second = len('{"reasoning": "Inflows rose.'), len('{"reasoning": "Inflows rose. Funding flat.')
    found = read_supports(supports((0, first, [2]), (0, second, [1, 0])), [text], {0: 1, 1: 2, 2: 3})
    assert cite_fields({"reasoning": "Inflows rose. Funding flat."}, text, found) == {"reasoning": example}


def test_a_segment_that_takes_the_closing_quote_along_is_cited_at_the_fields_end() -> None:
    text = '{"reasoning": "Up. Down.", "key_catalyst": "ETF"}'
    past_quote = len('{"reasoning": "Up. Down."')
    past_comma = len('{"reasoning": "Up. Down.",')
    past_brace = len(text)
    found = read_supports(
        supports((0, past_quote, [0]), (0, past_comma, [1]), (0, past_brace, [2])), [text], {0: 1, 1: 2, 2: 3}
    )
    out = cite_fields({"reasoning": "Up. Down.", "key_catalyst": "ETF"}, text, found)
    assert out == {"reasoning": "Up. Down.[1][2]", "key_catalyst": "ETF[3]"}
    assert found.notes == []


def test_a_segment_ending_at_the_opening_quote_cites_nothing_in_the_field() -> None:
    text = '{"reasoning": "Up. Down."}'
    at_opening_quote = len('{"reasoning": "')
    found = read_supports(supports((0, at_opening_quote, [0])), [text], {0: 1})
    assert cite_fields({"reasoning": "Up. Down."}, text, found) == {}


def test_a_segment_running_into_the_next_key_is_not_moved_back() -> None:
    text = '{"reasoning": "Up.", "key_catalyst": "ETF"}'
    into_next_key = len('{"reasoning": "Up.", "key')
    found = read_supports(supports((0, into_next_key, [0])), [text], {0: 1})
    assert cite_fields({"reasoning": "Up.", "key_catalyst": "ETF"}, text, found) == {}
