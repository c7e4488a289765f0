"""Normalising the contact fields of respondent lists: phones, emails and names.

The web layer uses the same functions for single edits, so a person typed into a form
and the same person uploaded in a list normalise identically.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

# -- phones -----------------------------------------------------------------------------

_PHONE_SEPARATORS = re.compile(r"[\s.\-()/]+")
_MOBILE_FIRST = frozenset("35789")


def normalize_phone(raw: str) -> str | None:
    """Normalise a Vietnamese phone number to E.164 (``+84...``), or ``None`` if invalid.

    Accepts ``0xxx``, ``84xxx``, ``+84xxx``, ``0084xxx`` and ``+84 (0) xxx``, with spaces,
    dots, dashes, slashes or brackets, and full-width digits.  A mobile number is 10
    digits with the leading 0 (second digit 3, 5, 7, 8 or 9); a landline is 11 digits
    starting ``02`` (the 2017 area codes).  A 9-digit mobile number without its 0 is
    accepted too, because Excel drops the leading zero of numbers typed into
    general-format cells.

    Examples
    --------
    >>> normalize_phone("0912.345.678")
    '+84912345678'
    >>> normalize_phone("+84 (0) 294 3855 123")
    '+842943855123'
    """
    # NFKC folds full-width digits from Vietnamese IMEs; ASCII input needs no folding.
    text = (raw if raw.isascii() else unicodedata.normalize("NFKC", raw)).strip()
    plus = text.startswith("+")
    digits = _PHONE_SEPARATORS.sub("", text[1:] if plus else text)
    if not digits.isascii() or not digits.isdigit():
        return None
    if plus or digits.startswith("0084"):
        international = digits if plus else digits[2:]
        if not international.startswith("84"):
            return None
        # "+84 (0) 912 ..." keeps the trunk 0 that must go after the country code.
        national = "0" + international[2:].removeprefix("0")
    elif digits.startswith("84") and len(digits) in (11, 12):
        national = "0" + digits[2:]
    elif digits.startswith("0"):
        national = digits
    elif len(digits) == 9 and digits[0] in _MOBILE_FIRST:
        national = "0" + digits
    else:
        return None
    if len(national) == 10 and national[1] in _MOBILE_FIRST:
        return "+84" + national[1:]
    if len(national) == 11 and national[1] == "2":
        return "+84" + national[1:]
    return None


# -- emails -----------------------------------------------------------------------------

# RFC 5322 dot-atom over ASCII, exactly email-validator's DOT_ATOM_TEXT.
_ATEXT = r"a-zA-Z0-9_!#\$%&'\*\+\-/=\?\^`\{\|\}~"
_DOT_ATOM = re.compile(f"[{_ATEXT}]+(?:\\.[{_ATEXT}]+)*\\Z")
_EMAIL_MAX = 254
_LOCAL_MAX = 64


class EmailInvalid(ValueError):
    """An email address failed syntax validation; ``str(exc)`` is the reason (English)."""


@functools.lru_cache(maxsize=8192)
def _domain(domain: str) -> str | None:
    try:
        return validate_email(f"a@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


def normalize_email(raw: str) -> str:
    """Validate an email address's syntax (no DNS) and return its normalised form.

    The result is what ``email_validator.validate_email(raw.strip(),
    check_deliverability=False).normalized`` returns.  Plain ASCII addresses take a fast
    path that validates each distinct domain once, which matters for lists of 100,000
    rows from a handful of agency domains; anything unusual goes to email-validator.

    Raises
    ------
    EmailInvalid
        With email-validator's reason.
    """
    text = raw.strip()
    local, at, domain = text.rpartition("@")
    if at and domain.isascii() and len(local) <= _LOCAL_MAX and _DOT_ATOM.match(local):
        norm_domain = _domain(domain)
        if norm_domain is not None and norm_domain.isascii():
            result = f"{local}@{norm_domain}"
            if len(result) <= _EMAIL_MAX:
                return result
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise EmailInvalid(str(exc)) from None


def email_key(email: str) -> str:
    """Matching key of a normalised address: mail servers treat the local part case-blind."""
    return email.casefold()


# -- names ------------------------------------------------------------------------------

_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"  # huyền, sắc, ngã, hỏi, nặng
# Old-style tone placement puts the mark on the first vowel of an open "oa", "oe", "uy"
# ("hòa", "khỏe", "thủy"); new style on the second ("hoà", "khoẻ", "thuỷ").  Both are in
# use, so the same person can be typed either way.
_OLD_STYLE_TONE = re.compile(
    f"(o)([{_TONE_MARKS}])([ae])(?![a-z\u0300-\u036f])|(u)([{_TONE_MARKS}])(y)(?![a-z\u0300-\u036f])"
)


@functools.lru_cache(maxsize=65536)
def normalize_name(raw: str) -> str:
    """A display name in Unicode NFC with single spaces (lists often arrive in NFD)."""
    return unicodedata.normalize("NFC", " ".join(raw.split()))


def _new_style(match: re.Match[str]) -> str:
    if match.group(1):
        return match.group(1) + match.group(3) + match.group(2)
    return match.group(4) + match.group(6) + match.group(5)


@functools.lru_cache(maxsize=65536)
def name_key(name: str) -> str:
    """Matching key of a name: case-blind, NFC, one tone-placement style, single spaces.

    Diacritics are kept: "Lê" and "Lệ" are different names.

    Examples
    --------
    >>> name_key("NGUYỄN THỊ HÒA") == name_key("Nguyễn Thị Hoà")
    True
    """
    decomposed = unicodedata.normalize("NFD", " ".join(name.split()).casefold())
    return unicodedata.normalize("NFC", _OLD_STYLE_TONE.sub(_new_style, decomposed))
