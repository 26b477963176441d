"""Agencies bigger than the seed's 38 pages: generated pages, their banks and the demo's files."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eros.cli import app
from eros.demo import write_csv, write_history_files
from eros.identity import caption_key
from eros.ingest import import_columns
from eros.simulate import PAGE_SPECS, World, build_world
from eros.simulate.pages import MAX_PAGES, agency_specs
from eros.simulate.world import simulate_agency

HISTORY_END = date(2025, 11, 3)
SHORT_HISTORY = 35  # days: enough for every page's habit, cheap to simulate


@pytest.fixture(scope="module")
def agency_45() -> World:
    return build_world(HISTORY_END, history_days=SHORT_HISTORY, page_count=45)


@pytest.fixture(scope="module")
def seed_agency() -> World:
    return build_world(HISTORY_END, history_days=SHORT_HISTORY)


def test_an_agency_starts_with_the_seed_pages_then_numbered_ones() -> None:
    specs = agency_specs(45)
    assert specs[:38] == PAGE_SPECS
    assert [spec.page_name for spec in specs[38:]] == [f"page{n:04d}" for n in range(39, 46)]
    assert agency_specs(12) == PAGE_SPECS[:12]
    everything = agency_specs(MAX_PAGES)
    assert everything[:45] == specs  # a page is the same page in every agency that has it
    assert len({spec.page_name for spec in everything}) == MAX_PAGES


def test_generated_pages_follow_the_seeds_mix() -> None:
    generated = agency_specs(MAX_PAGES)[38:]
    seed_share = Counter(spec.page_type for spec in PAGE_SPECS)
    share = Counter(spec.page_type for spec in generated)
    for page_type, count in seed_share.items():
        assert share[page_type] / len(generated) == pytest.approx(count / 38, abs=0.03)
    assert {spec.timezone for spec in generated} == {spec.timezone for spec in PAGE_SPECS}
    assert {spec.size_tier for spec in generated} == {spec.size_tier for spec in PAGE_SPECS}
    assert any(spec.fatigued for spec in generated)


@pytest.mark.parametrize("count", [0, MAX_PAGES + 1])
def test_agency_size_is_bounded(count: int) -> None:
    with pytest.raises(ValueError, match="page_count"):
        agency_specs(count)


def test_every_page_has_history_fans_and_its_own_captions(agency_45: World) -> None:
    names = [page["page_name"] for page in agency_45.pages]
    assert len(names) == 45
    assert names[38:] == [f"page{n:04d}" for n in range(39, 46)]
    messages = Counter(message["page_name"] for message in agency_45.messages)
    fans = Counter(row["page_name"] for row in agency_45.fans)
    own = Counter(caption["page_name"] for caption in agency_45.captions)
    for name in names:
        assert messages[name] > 0
        assert fans[name] > 0
        assert own[name] > 100
    assert own[""] == 150  # the agency's shared captions
    assert set(agency_45.truth.pages) == set(names)
    # Generated pages send the shared captions too, not only their own.
    shared = {caption["caption_text"] for caption in agency_45.captions if not caption["page_name"]}
    assert any(
        message["caption_text"] in shared
        for message in agency_45.messages
        if message["page_name"] == "page0040"
    )


def test_caption_keys_are_unique_across_the_agency(agency_45: World) -> None:
    keys = [caption_key(caption["caption_text"]) for caption in agency_45.captions]
    assert len(set(keys)) == len(keys)
    bank = agency_45._bank["page0041"]
    assert all(caption_key(row["caption_text"]) == key for key, row in bank.items())


def test_the_seed_pages_are_the_same_in_a_bigger_agency(
    agency_45: World, seed_agency: World
) -> None:
    seed_names = {spec.page_name for spec in PAGE_SPECS}
    assert agency_45.pages[:38] == seed_agency.pages
    assert [m for m in agency_45.messages if m["page_name"] in seed_names] == seed_agency.messages
    assert [row for row in agency_45.fans if row["page_name"] in seed_names] == seed_agency.fans
    assert agency_45.captions[: len(seed_agency.captions)] == seed_agency.captions
    assert all(agency_45.truth.pages[name] == seed_agency.truth.pages[name] for name in seed_names)


def test_a_generated_page_is_the_same_in_any_agency_that_has_it(agency_45: World) -> None:
    alone = build_world(HISTORY_END, history_days=SHORT_HISTORY, page_count=41, pages=["page0040"])
    assert alone.messages == [m for m in agency_45.messages if m["page_name"] == "page0040"]
    assert alone.truth.pages["page0040"] == agency_45.truth.pages["page0040"]
    own = [c for c in alone.captions if c["page_name"] == "page0040"]
    assert own == [c for c in agency_45.captions if c["page_name"] == "page0040"]


def test_forked_workers_give_the_same_agency(agency_45: World) -> None:
    forked = build_world(HISTORY_END, history_days=SHORT_HISTORY, page_count=45, workers=2)
    assert forked.messages == agency_45.messages
    assert forked.captions == agency_45.captions
    assert forked.fans == agency_45.fans
    assert forked.truth == agency_45.truth
    assert forked._bank == agency_45._bank
    whole, other = agency_45.copy(), forked.copy()
    assert whole.simulate_week([], HISTORY_END) == other.simulate_week([], HISTORY_END)
    assert whole.week_fans == other.week_fans


def test_history_files_match_the_row_writer(tmp_path: Path) -> None:
    """The columnar writer gives the bytes `write_csv` gives for the same rows."""
    world = build_world(
        HISTORY_END, history_days=SHORT_HISTORY, page_count=40, pages=["jadebri", "page0039"]
    )
    files = write_history_files(
        tmp_path, world.pages, world.captions, world.histories, with_new_captions=False
    )
    rows = {"pages": world.pages, "captions": world.captions}
    rows |= {"messages": world.messages, "fans": world.fans}
    for kind, file in files.items():
        expected = tmp_path / f"expected-{kind}.csv"
        write_csv(expected, import_columns(kind), rows[kind])
        assert file.read_bytes() == expected.read_bytes(), kind
    streamed = tmp_path / "streamed"
    streamed.mkdir()
    agency = simulate_agency(
        HISTORY_END, history_days=SHORT_HISTORY, page_count=40, pages=["jadebri", "page0039"]
    )
    for kind, file in write_history_files(
        streamed, agency.pages, agency.captions, agency.histories
    ).items():
        assert file.read_bytes() == files[kind].read_bytes(), kind


def test_demo_command_builds_n_pages_without_planning(tmp_path: Path) -> None:
    store = tmp_path / "two.duckdb"
    options = ["--pages", "2", "--no-run", "--week", "2025-11-03", "--store", str(store)]
    result = CliRunner().invoke(app, ["demo", *options, "--out", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["run"] is None
    assert report["pages"] == 2
    imported = {row["kind"]: row["inserted"] for row in report["imports"]}
    assert imported["pages"] == 2
    assert imported["messages"] > 0
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("pages", ["0", "5001"])
def test_demo_command_refuses_an_agency_size_out_of_range(pages: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--pages", pages, "--store", str(tmp_path / "x")])
    assert result.exit_code == 2
