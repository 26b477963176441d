"""The demo caption bank: unique, labelled, shared where it should be, and tame."""

from __future__ import annotations

import itertools
import re
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from eros.identity import caption_key
from eros.settings import TRIGGERS
from eros.simulate import World
from eros.simulate.copywriting import (
    CALLS_TO_ACTION,
    CONTENT_CATEGORIES,
    EMOJI,
    HOOKS_BY_TRIGGER,
    PLAIN_CALLS_TO_ACTION,
    PLAIN_HOOKS,
    CopyWriter,
)
from eros.simulate.pages import CAPTION_BANK_SPREAD, PAGE_SPECS, own_bank_minimum

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
TIER_ORDER = ("NEW", "SMALL", "MEDIUM", "LARGE", "XL")


def hook_pattern(template: str) -> re.Pattern[str]:
    """A hook template as a pattern: "only {n} spots left" matches "only 12 spots left"."""
    parts = re.split(r"\{\w+\}", template)
    return re.compile(r"\d+".join(re.escape(part) for part in parts))


TRIGGER_HOOKS = {
    trigger: [hook_pattern(hook) for hook in hooks] for trigger, hooks in HOOKS_BY_TRIGGER.items()
}
PLAIN_HOOK_PATTERNS = [hook_pattern(hook) for hook in PLAIN_HOOKS]
# The fixed words of every trigger hook ("only {n} spots left" → "only", "spots left").
TRIGGER_WORDING = re.compile(
    r"\b("
    + "|".join(
        re.escape(piece.strip())
        for hooks in HOOKS_BY_TRIGGER.values()
        for hook in hooks
        for piece in re.split(r"\{\w+\}", hook)
        if len(piece.strip()) > 1
    )
    + r")\b",
    re.IGNORECASE,
)
EMOJI_THEN_HOOK = re.compile("(?:" + "|".join(re.escape(emoji) for emoji in EMOJI) + r") (.*?)\.")
PRESSING_CALLS = set(CALLS_TO_ACTION) - set(PLAIN_CALLS_TO_ACTION)


def test_caption_texts_are_unique_per_page_and_across_the_bank(world: World) -> None:
    keys = Counter((row["page_name"], caption_key(row["caption_text"])) for row in world.captions)
    assert max(keys.values()) == 1
    assert len({key for _, key in keys}) == len(world.captions)


def test_every_page_has_its_own_bank_plus_shared_captions(world: World) -> None:
    shared = [row for row in world.captions if row["page_name"] == ""]
    assert 140 <= len(shared) <= 160
    assert {row["message_type"] for row in shared} == {"ppv", "bump"}
    ppv_by_tier: dict[str, list[int]] = {tier: [] for tier in TIER_ORDER}
    for spec in PAGE_SPECS:
        own = [row for row in world.captions if row["page_name"] == spec.page_name]
        ppv = sum(row["message_type"] == "ppv" for row in own)
        bumps = sum(row["message_type"] == "bump" for row in own)
        ppv_low, bump_low = own_bank_minimum(spec)
        assert ppv_low <= ppv <= round(ppv_low * (1 + CAPTION_BANK_SPREAD)), spec.page_name
        assert bump_low <= bumps <= round(bump_low * (1 + CAPTION_BANK_SPREAD)), spec.page_name
        if not spec.fatigued:
            ppv_by_tier[spec.size_tier].append(ppv)
    # Banks scale with the tier's volume: a LARGE page needs ≥ 210 PPVs for a 21-day cooldown.
    for smaller, bigger in itertools.pairwise(TIER_ORDER):
        assert max(ppv_by_tier[smaller]) < min(ppv_by_tier[bigger]), (smaller, bigger)
    assert min(ppv_by_tier["LARGE"]) >= 1.5 * 210


def test_some_captions_are_inactive(world: World) -> None:
    inactive = sum(not row["active"] for row in world.captions)
    assert 0.03 * len(world.captions) <= inactive <= 0.15 * len(world.captions)


def test_captions_carry_valid_labels(world: World) -> None:
    for row in world.captions:
        if row["message_type"] == "ppv":
            assert row["price_tier"] in PRICE_TIERS
            assert row["trigger"] in {"", *TRIGGERS}
            assert row["content_category"] in CONTENT_CATEGORIES
        else:
            assert row["price_tier"] == ""
            assert row["trigger"] in {"", *TRIGGERS}
            assert row["content_category"]
    assert {row["price_tier"] for row in world.captions} == PRICE_TIERS | {""}
    assert {row["trigger"] for row in world.captions} >= set(TRIGGERS)


def test_about_half_of_ppv_captions_are_plain_and_say_so(world: World) -> None:
    """Weekly trigger budgets allow 31 trigger PPVs in all, so a big page needs plain captions."""
    ppv = [row for row in world.captions if row["message_type"] == "ppv"]
    plain = [row for row in ppv if row["trigger"] == ""]
    assert 0.4 <= len(plain) / len(ppv) <= 0.6
    for page in world.pages:
        own = [row for row in ppv if row["page_name"] == page["page_name"]]
        share = sum(row["trigger"] == "" for row in own) / len(own)
        assert 0.3 <= share <= 0.7, page["page_name"]
    for row in ppv:
        assert_wording_fits(row["caption_text"], row["trigger"])


def assert_wording_fits(text: str, trigger: str) -> None:
    """A plain caption's hook has no trigger wording (nor a pressing call to action); a trigger
    caption's hook is one of its trigger's."""
    found = EMOJI_THEN_HOOK.search(text)
    assert found, text
    hook = found.group(1)
    if trigger == "":
        assert any(pattern.fullmatch(hook) for pattern in PLAIN_HOOK_PATTERNS), text
        assert not TRIGGER_WORDING.search(hook), text
        assert not any(text.endswith(call) for call in PRESSING_CALLS), text
    else:
        assert any(pattern.fullmatch(hook) for pattern in TRIGGER_HOOKS[trigger]), text


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
        if draft.message_type == "ppv":
            assert_wording_fits(draft.caption_text, draft.trigger)
    plain = sum(draft.trigger == "" for draft in drafts[:300])
    assert 100 <= plain <= 200
