import hashlib

from hypothesis import given
from hypothesis import strategies as st

from eros.identity import caption_key, normalize_caption


def test_caption_key_known_answer_keeps_emoji() -> None:
    assert (
        caption_key("  New SET 🌊\t just   dropped ")
        == "c9ffdc991d17125de472c6465a013ca1e32d136f63a51bcb9b5fb04427ca6152"
    )


def test_caption_key_applies_nfkc_and_keeps_accents() -> None:
    # The ligature "ﬁ" folds to "fi" under NFKC; the accent of "Café" stays.
    assert caption_key("Café ﬁre") == hashlib.sha256("café fire".encode()).hexdigest()
    assert caption_key("Café fire") != caption_key("Cafe fire")


def test_emoji_distinguish_captions() -> None:
    assert caption_key("hello 🌊") != caption_key("hello 🔥")


@given(st.text())
def test_key_is_stable_under_case_and_white_space(text: str) -> None:
    noisy = "  " + text.upper().replace(" ", " \t ") + "\n"
    assert caption_key(noisy) == caption_key(normalize_caption(noisy))
    assert len(caption_key(text)) == 64
