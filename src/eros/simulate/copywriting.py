"""Caption text for the demo world: non-explicit marketing copy assembled from parts.

A PPV caption is opener + offer + emoji + hook + call to action, e.g. "New beach photo set 🌊 only
24h at this price. Tap to unlock". About half of them are written for one psychological trigger (the
hook says so); the rest are plain (trigger "", a hook and call to action with no trigger wording),
as in a real bank. A bump is a short friendly check-in. Every text is unique by caption_key across
the whole bank, so a caption belongs to one page or is shared, never both. The copy is deliberately
tame: no sexual words at all.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from eros.identity import caption_key
from eros.settings import PRICE_TIERS, TRIGGERS, PriceTier

MessageKind = Literal["ppv", "bump"]

PRICE_BY_TIER: Final[dict[str, float]] = {
    "budget": 15.0,
    "standard": 25.0,
    "premium": 40.0,
    "luxury": 60.0,
    "vip": 100.0,
}

# Offer phrases per content category, each with the price tiers the agency sells it at.
OFFERS_BY_CATEGORY: Final[dict[str, tuple[str, ...]]] = {
    "Photo set": (
        "beach photo set",
        "golden hour photo set",
        "poolside photo set",
        "cozy sweater photo set",
        "mirror selfie set",
        "studio photo set",
        "sunset photo set",
        "rooftop photo set",
        "picnic photo set",
        "rainy day photo set",
    ),
    "Video": (
        "workout video",
        "get-ready-with-me video",
        "beach day video",
        "dance video",
        "morning routine video",
        "vacation vlog",
        "cooking-with-me video",
        "road trip video",
    ),
    "Behind the scenes": (
        "behind-the-scenes clip from today's shoot",
        "blooper reel from the shoot",
        "BTS look at my photo day",
        "behind-the-scenes of my studio setup",
        "making-of video from the weekend shoot",
    ),
    "Outfit try-on": (
        "summer dress try-on",
        "new outfit haul",
        "heels and dress try-on",
        "gym outfit try-on",
        "cozy pajama try-on",
        "denim try-on",
        "party outfit try-on",
        "swimsuit try-on",
    ),
    "Bundle": (
        "5-set bundle",
        "weekend bundle",
        "best-of-the-month bundle",
        "photo + video bundle",
        "mega bundle",
        "throwback bundle",
    ),
    "Voice note": (
        "personal voice note",
        "good-morning voice note",
        "goodnight voice note",
        "voice note with a secret",
        "storytime voice note",
    ),
    "Live replay": (
        "replay of last night's live",
        "live Q&A replay",
        "full livestream replay",
        "replay of my birthday live",
    ),
    "Custom request": (
        "custom photo made just for you",
        "personalized shout-out video",
        "custom video made to order",
        "custom set in your favourite colour",
    ),
}
PRICE_TIER_WEIGHTS_BY_CATEGORY: Final[dict[str, tuple[float, float, float, float, float]]] = {
    "Photo set": (0.30, 0.40, 0.20, 0.07, 0.03),
    "Video": (0.10, 0.35, 0.35, 0.15, 0.05),
    "Behind the scenes": (0.40, 0.40, 0.15, 0.05, 0.00),
    "Outfit try-on": (0.20, 0.40, 0.30, 0.10, 0.00),
    "Bundle": (0.00, 0.10, 0.35, 0.35, 0.20),
    "Voice note": (0.50, 0.35, 0.15, 0.00, 0.00),
    "Live replay": (0.25, 0.45, 0.25, 0.05, 0.00),
    "Custom request": (0.00, 0.05, 0.25, 0.35, 0.35),
}
_CUMULATIVE_TIER_WEIGHTS: Final = {
    category: tuple(itertools.accumulate(weights))
    for category, weights in PRICE_TIER_WEIGHTS_BY_CATEGORY.items()
}
CONTENT_CATEGORIES: Final = tuple(OFFERS_BY_CATEGORY)

OPENERS: Final = (
    "New",
    "Just dropped:",
    "Finally here:",
    "Fresh",
    "Brand new",
    "Surprise!",
    "You asked, I delivered:",
    "Sneak peek at my",
    "Today's",
    "My favourite",
    "Weekend special:",
    "Straight from my camera roll:",
)
EMOJI: Final = (
    "🌊",
    "☀️",
    "🔥",
    "✨",
    "💖",
    "📸",
    "🎬",
    "🌸",
    "🎀",
    "💌",
    "😍",
    "🥰",
    "🎉",
    "⏳",
    "💎",
    "👀",
    "🙈",
    "🌴",
)
HOOKS_BY_TRIGGER: Final[dict[str, tuple[str, ...]]] = {
    "Scarcity": (
        "only {n} spots left",
        "limited to the first {n} fans",
        "just {n} copies available",
        "only {n} left in the vault",
    ),
    "Urgency": (
        "only {h}h at this price",
        "unlock before midnight",
        "ends tonight",
        "price goes up in {h} hours",
    ),
    "FOMO": (
        "everyone's talking about this one",
        "don't be the one who missed it",
        "last week's fans loved it",
        "you'll regret skipping this",
    ),
    "Exclusivity": (
        "never posted anywhere else",
        "only for my VIPs",
        "just for you, not on my feed",
        "a vault exclusive",
    ),
    "Social Proof": (
        "my most unlocked set this month",
        "{n}0+ fans already unlocked it",
        "top-rated by my fans",
        "a true fan favourite",
    ),
    "Curiosity": (
        "you won't guess how it ends",
        "can you spot the surprise?",
        "wait for the last one",
        "guess where I shot this",
    ),
    "Flash Sale": (
        "{pct}% off for the next {h} hours",
        "flash sale, tonight only",
        "half price for one hour",
        "flash deal: 2 for 1",
    ),
}
# Hooks of plain captions (no trigger): nothing scarce, urgent, exclusive, popular or mysterious.
PLAIN_HOOKS: Final = (
    "I had so much fun making this",
    "shot it last weekend",
    "one of my personal favourites",
    "hope it makes your day",
    "made with lots of love",
    "a little treat for you",
    "perfect for a cozy evening",
    "something a bit different this time",
    "{n} pics inside",
    "my new favourite look",
    "filmed it in natural light",
    "a sweet one for you",
)
PLAIN_SHARE: Final = 0.5  # share of PPV captions without a trigger
CALLS_TO_ACTION: Final = (
    "Unlock now",
    "Tap to unlock",
    "Open it before it's gone",
    "Check your DMs",
    "Grab it now",
    "Don't miss it",
    "Reply 'yes' if you want more",
    "It's waiting in your inbox",
    "Unlock and tell me what you think",
    "",
)
# Calls to action a plain caption may use: none that press for time.
PLAIN_CALLS_TO_ACTION: Final = tuple(
    call for call in CALLS_TO_ACTION if call not in {"Open it before it's gone", "Don't miss it"}
)

BUMP_CATEGORIES: Final = ("Check-in", "Teaser", "Wall post", "Poll")
BUMP_GREETINGS: Final = (
    "Hey you",
    "Good morning",
    "Hi love",
    "Morning sunshine",
    "Quick question",
    "Guess what",
    "Hey there",
    "Happy day",
    "Evening",
    "Hello",
    "Hiya",
    "Hey hey",
)
BUMP_BODIES_BY_CATEGORY: Final[dict[str, tuple[str, ...]]] = {
    "Check-in": (
        "just got back from the beach",
        "I'm having a lazy day at home",
        "coffee in hand and thinking of my fans",
        "just finished my workout",
        "I'm bored and want to chat",
    ),
    "Teaser": (
        "I've got a surprise planned this week",
        "something new is coming tomorrow",
        "I just finished a shoot you're going to love",
        "the next drop is almost ready",
    ),
    "Wall post": (
        "new pic on my wall",
        "I posted a little something on my feed",
        "fresh post up on my page",
        "my wall just got an update",
    ),
    "Poll": (
        "I can't decide on my next theme",
        "help me pick tomorrow's outfit",
        "I need your vote on the next set",
        "beach or city for the next shoot",
    ),
}
BUMP_QUESTIONS: Final = (
    "what are you up to?",
    "what should I post next?",
    "reply with your favourite emoji",
    "rate my look 1-10",
    "tell me about your day",
    "are you awake?",
    "what's your plan tonight?",
    "go say hi",
    "vote in the comments",
    "did you see it yet?",
    "how's your week going?",
    "coffee or tea?",
    "what music are you into lately?",
    "send me a song for today",
)


@dataclass(frozen=True)
class CaptionDraft:
    """One generated caption before it is given a page: text plus the labels the bank stores."""

    caption_text: str
    message_type: MessageKind
    content_category: str
    price_tier: PriceTier | None
    trigger: str
    active: bool


class CopyWriter:
    """Writes unique caption texts; one instance owns the set of keys already used."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._used_keys: set[str] = set()

    def _pick(self, options: tuple[str, ...]) -> str:
        return options[int(self._rng.random() * len(options))]

    def _fill(self, template: str) -> str:
        if "{" not in template:
            return template
        n, hours, pct = self._rng.random(3).tolist()
        return template.format(
            n=3 + int(n * 22),
            h=(6, 12, 24, 48)[int(hours * 4)],
            pct=(20, 25, 30, 40, 50)[int(pct * 5)],
        )

    def _claim(self, text: str) -> bool:
        key = caption_key(text)
        if key in self._used_keys:
            return False
        self._used_keys.add(key)
        return True

    def ppv(self, *, active: bool) -> CaptionDraft:
        """A new PPV caption (opener, offer, emoji, hook, call to action); half have no trigger."""
        while True:
            category = self._pick(CONTENT_CATEGORIES)
            plain = self._rng.random() < PLAIN_SHARE
            trigger = "" if plain else self._pick(TRIGGERS)
            offer = self._pick(OFFERS_BY_CATEGORY[category])
            hooks = PLAIN_HOOKS if plain else HOOKS_BY_TRIGGER[trigger]
            hook = self._fill(self._pick(hooks))
            call = self._pick(PLAIN_CALLS_TO_ACTION if plain else CALLS_TO_ACTION)
            opener = self._pick(OPENERS)
            if opener.endswith("!"):
                offer = offer[0].upper() + offer[1:]
            text = f"{opener} {offer} {self._pick(EMOJI)} {hook}."
            if call:
                text = f"{text} {call}"
            if self._claim(text):
                cumulative = _CUMULATIVE_TIER_WEIGHTS[category]
                draw = self._rng.random() * cumulative[-1]
                tier = PRICE_TIERS[min(bisect_right(cumulative, draw), len(PRICE_TIERS) - 1)]
                return CaptionDraft(text, "ppv", category, tier, trigger, active)

    def bump(self, *, active: bool) -> CaptionDraft:
        """A new bump: greeting, a line of news, a question and an emoji; no price."""
        while True:
            category = self._pick(BUMP_CATEGORIES)
            body = self._pick(BUMP_BODIES_BY_CATEGORY[category])
            greeting, emoji, question = (
                self._pick(BUMP_GREETINGS),
                self._pick(EMOJI),
                self._pick(BUMP_QUESTIONS),
            )
            text = f"{greeting}! {body[0].upper()}{body[1:]} {emoji} {question}"
            if self._claim(text):
                trigger = "Curiosity" if category == "Teaser" else ""
                return CaptionDraft(text, "bump", category, None, trigger, active)


# ---------------------------------------------------------------- the pages beyond the seed's 38

# Generated pages' bumps may end with a sign-off; with two emoji this gives ~5.5 million bump
# texts (the seed's one-emoji grammar has 51,408, which a ~220-page agency uses up).
SIGN_OFFS: Final = ("", " xo", " xx", " 😘", " 💋", " 💕")
_PLACEHOLDER_VALUES: Final = {
    "n": tuple(range(3, 25)),
    "h": (6, 12, 24, 48),
    "pct": (20, 25, 30, 40, 50),
}


def _variants(template: str) -> tuple[str, ...]:
    """Every filled-in text of a hook template (the values `CopyWriter._fill` draws from)."""
    names = [name for name in _PLACEHOLDER_VALUES if "{" + name + "}" in template]
    if not names:
        return (template,)
    return tuple(
        template.format(**dict(zip(names, values, strict=True)))
        for values in itertools.product(*(_PLACEHOLDER_VALUES[name] for name in names))
    )


_HOOK_VARIANTS: Final = {
    hook: _variants(hook)
    for hook in PLAIN_HOOKS + tuple(h for hooks in HOOKS_BY_TRIGGER.values() for h in hooks)
}


GeneratedCaption = tuple[str, MessageKind, str, str, str, bool]
"""caption_text, message_type, content_category, price_tier ("" for bumps), trigger, active."""


class AgencyCopyWriter:
    """Writes the own banks of generated pages, page after page, from each page's generator.

    The grammar is the seed's with two emoji side by side (and, for bumps, a sign-off), so no text
    can equal one of the seed's one-emoji captions; the texts already used are remembered, so a
    caption belongs to one page. The labels (category, trigger, tier) follow the seed's weights.
    Draws come in blocks of uniforms (one row per caption), not one call per part, and captions
    are plain tuples: a bank of a few hundred thousand is written in seconds.
    """

    def __init__(self) -> None:
        self._used: set[str] = set()

    def _keep_new(self, batch: list[GeneratedCaption], into: list[GeneratedCaption]) -> None:
        used = self._used
        for caption in batch:
            if caption[0] not in used:
                used.add(caption[0])
                into.append(caption)

    def ppv(
        self, rng: np.random.Generator, count: int, inactive_share: float
    ) -> list[GeneratedCaption]:
        captions: list[GeneratedCaption] = []
        categories, emoji, openers = CONTENT_CATEGORIES, EMOJI, OPENERS
        while len(captions) < count:
            batch: list[GeneratedCaption] = []
            for u in rng.random((count - len(captions), 12)).tolist():
                category = categories[int(u[0] * len(categories))]
                plain = u[1] < PLAIN_SHARE
                trigger = "" if plain else TRIGGERS[int(u[2] * len(TRIGGERS))]
                offers = OFFERS_BY_CATEGORY[category]
                offer = offers[int(u[3] * len(offers))]
                hooks = PLAIN_HOOKS if plain else HOOKS_BY_TRIGGER[trigger]
                variants = _HOOK_VARIANTS[hooks[int(u[4] * len(hooks))]]
                hook = variants[int(u[5] * len(variants))]
                calls = PLAIN_CALLS_TO_ACTION if plain else CALLS_TO_ACTION
                call = calls[int(u[6] * len(calls))]
                opener = openers[int(u[7] * len(openers))]
                if opener.endswith("!"):
                    offer = offer[0].upper() + offer[1:]
                pair = emoji[int(u[8] * len(emoji))] + emoji[int(u[9] * len(emoji))]
                text = f"{opener} {offer} {pair} {hook}." + (f" {call}" if call else "")
                cumulative = _CUMULATIVE_TIER_WEIGHTS[category]
                draw = u[10] * cumulative[-1]
                tier = PRICE_TIERS[min(bisect_right(cumulative, draw), len(PRICE_TIERS) - 1)]
                batch.append((text, "ppv", category, tier, trigger, u[11] >= inactive_share))
            self._keep_new(batch, captions)
        return captions

    def bump(
        self, rng: np.random.Generator, count: int, inactive_share: float
    ) -> list[GeneratedCaption]:
        captions: list[GeneratedCaption] = []
        emoji, greetings, questions = EMOJI, BUMP_GREETINGS, BUMP_QUESTIONS
        while len(captions) < count:
            batch: list[GeneratedCaption] = []
            for u in rng.random((count - len(captions), 8)).tolist():
                category = BUMP_CATEGORIES[int(u[0] * len(BUMP_CATEGORIES))]
                bodies = BUMP_BODIES_BY_CATEGORY[category]
                body = bodies[int(u[1] * len(bodies))]
                greeting = greetings[int(u[2] * len(greetings))]
                pair = emoji[int(u[3] * len(emoji))] + emoji[int(u[4] * len(emoji))]
                question = questions[int(u[5] * len(questions))]
                sign_off = SIGN_OFFS[int(u[6] * len(SIGN_OFFS))]
                text = f"{greeting}! {body[0].upper()}{body[1:]} {pair} {question}{sign_off}"
                trigger = "Curiosity" if category == "Teaser" else ""
                batch.append((text, "bump", category, "", trigger, u[7] >= inactive_share))
            self._keep_new(batch, captions)
        return captions
