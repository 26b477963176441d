"""The demo caption bank: unique, labelled, shared where it should be, and tame."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from eros.identity import caption_key
from eros.simulate import World
from eros.simulate.copywriting import CONTENT_CATEGORIES, TRIGGERS, CopyWriter

BANNED_WORDS = (
    "nude",
    "nudes",
    "naked",
    "sex",
    "sexy",
    "porn",
    "xxx",
    "nsfw",
    "explicit",
    "horny",
    "topless",
    "lingerie",
    "strip",
    "kinky",
    "fetish",
    "uncensored",
    "18+",
)
BANNED = re.compile(r"(?<!\w)(" + "|".join(re.escape(word) for word in BANNED_WORDS) + r")(?!\w)")
PRICE_TIERS = {"budget", "standard", "premium", "luxury", "vip"}


def test_caption_texts_are_unique_per_page_and_across_the_bank(world: World) -> None:
    keys = Counter((row["page_name"], caption_key(row["caption_text"])) for row in world.captions)
    assert max(keys.values()) == 1
    assert len({key for _, key in keys}) == len(world.captions)


def test_every_page_has_its_own_bank_plus_shared_captions(world: World) -> None:
    shared = [row for row in world.captions if row["page_name"] == ""]
    assert 140 <= len(shared) <= 160
    assert {row["message_type"] for row in shared} == {"ppv", "bump"}
    for page in world.pages:
        own = [row for row in world.captions if row["page_name"] == page["page_name"]]
        ppv = sum(row["message_type"] == "ppv" for row in own)
        bumps = sum(row["message_type"] == "bump" for row in own)
        assert 80 <= ppv <= 250, page["page_name"]
        assert 30 <= bumps <= 60, page["page_name"]


def test_some_captions_are_inactive(world: World) -> None:
    inactive = sum(not row["active"] for row in world.captions)
    assert 0.03 * len(world.captions) <= inactive <= 0.15 * len(world.captions)


def test_captions_carry_valid_labels(world: World) -> None:
    for row in world.captions:
        if row["message_type"] == "ppv":
            assert row["price_tier"] in PRICE_TIERS
            assert row["trigger"] in TRIGGERS
            assert row["content_category"] in CONTENT_CATEGORIES
        else:
            assert row["price_tier"] == ""
            assert row["trigger"] in {"", *TRIGGERS}
            assert row["content_category"]
    assert {row["price_tier"] for row in world.captions} == PRICE_TIERS | {""}
    assert {row["trigger"] for row in world.captions} >= set(TRIGGERS)


def test_no_caption_uses_explicit_words(world: World) -> None:
    assert BANNED.search("new nude set")
    assert not BANNED.search("sussex sunset")
    offending = [
        row["caption_text"] for row in world.captions if BANNED.search(row["caption_text"].lower())
    ]
    assert offending == []


def test_sent_captions_come_from_the_page_bank_or_the_shared_one(world: World) -> None:
    bank = {(row["page_name"], row["caption_text"]) for row in world.captions}
    for message in world.messages[::50]:
        assert (message["page_name"], message["caption_text"]) in bank or (
            "",
            message["caption_text"],
        ) in bank


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_writer_never_repeats_itself(seed: int) -> None:
    writer = CopyWriter(np.random.default_rng(seed))
    drafts = [writer.ppv(active=True) for _ in range(300)] + [
        writer.bump(active=True) for _ in range(100)
    ]
    keys = {caption_key(draft.caption_text) for draft in drafts}
    assert len(keys) == len(drafts)
    for draft in drafts:
        assert not BANNED.search(draft.caption_text.lower())
        assert 10 < len(draft.caption_text) < 200
        assert "{" not in draft.caption_text  # every template slot filled
