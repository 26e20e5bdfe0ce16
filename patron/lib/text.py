"""Text folding for search: "Nguyễn Văn Đức" is found by typing "nguyen van duc"."""

import unicodedata


def fold(text: str) -> str:
    """Lower-case, strip accents (and the Vietnamese đ, which is not a combining mark)."""
    text = (text or "").replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.lower().split())
