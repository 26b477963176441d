"""Stable identities (caption_key, later schedule_id): known-answer tested, changed never."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

_WHITE_SPACE = re.compile(r"\s+")


def normalize_caption(text: str) -> str:
    """NFKC, lower-case, white space collapsed and trimmed; emoji and accents are kept."""
    return _WHITE_SPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


@lru_cache(maxsize=65_536)  # a history repeats its captions many times
def caption_key(text: str) -> str:
    """SHA-256 hex of the normalized caption text: the caption's identity across pages and files."""
    return hashlib.sha256(normalize_caption(text).encode("utf-8")).hexdigest()
