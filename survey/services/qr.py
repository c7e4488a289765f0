"""QR codes for respondent links, short links and the printed short code.

Encoding: :func:`qr_matrices` makes QR codes for many links at once. Links of one length
share a symbol version and error level (segno's choice for that length, error level M or
better), so the fixed parts (function patterns, format and version information, the order in
which data bits are placed) are taken once from segno and cached; per link only the data and
Reed-Solomon codewords are computed, vectorised with numpy over the batch. The mask is fixed
(:data:`QR_MASK`), so every matrix equals ``segno.make(link, error="m", mask=QR_MASK)``
exactly (the tests check this); a fixed mask is valid QR, the scanners read it alike.

Short code: the code printed beside the QR on cards and paper forms is the first
:data:`SHORT_CODE_HEX` hex digits of the token's SHA-256, which is what ``access_tokens``
stores. It finds the form (staff-only, for paper data entry) without storing the token; it
does not open the web form (that needs the token), and reveals nothing of the token.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import numpy as np
import segno
from segno import consts as sc
from segno import encoder as se
from sqlalchemy import select

from survey import db
from survey.models import AccessToken
from survey.services.tokens import find_form, hash_token

QR_MASK = 0
QR_ERROR = "m"
BORDER = 4  # quiet zone, in modules
SHORT_CODE_HEX = 12  # 48 bits of the token hash, shown as XXXX-XXXX-XXXX

TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")
LINK_RE = re.compile(r"/s/([A-Za-z0-9_\-]{16,64})/?$")


# --- links and codes ---------------------------------------------------------------------

def form_link(raw_token: str, base_url: str) -> str:
    """The personal link a token opens (``<PUBLIC_URL>/s/<token>``)."""
    return f"{base_url.rstrip('/')}/s/{raw_token}"


def short_link(link: str) -> str:
    """The link as printed: without the scheme."""
    return re.sub(r"^https?://", "", link)


def short_code(raw_token: str) -> str:
    """The printed short code of a token: hash prefix in groups of four, upper case."""
    h = hash_token(raw_token)[:SHORT_CODE_HEX].upper()
    return "-".join(h[i:i + 4] for i in range(0, SHORT_CODE_HEX, 4))


class AmbiguousCode(LookupError):
    """A short code that matches more than one live token (type the link or token instead)."""


def find_form_by_code(text: str) -> int | None:
    """The form of a printed short code, a scanned link or a typed token; None if unknown.

    Revoked tokens do not count. Raises :class:`AmbiguousCode` if a short code matches the
    tokens of more than one form (rare: 48 bits).
    """
    text = (text or "").strip()
    match = LINK_RE.search(text)
    if match:
        return _form_id(match.group(1))
    compact = re.sub(r"[\s\-]", "", text).lower()
    if len(compact) == SHORT_CODE_HEX and re.fullmatch(r"[0-9a-f]+", compact):
        # A range on the unique index (also under non-C collations), checked again exactly.
        rows = db.session().execute(select(AccessToken.form_id, AccessToken.token_hash).where(
            AccessToken.token_hash >= compact, AccessToken.token_hash < compact + "g",
            AccessToken.revoked_at.is_(None))).all()
        forms = {form_id for form_id, h in rows if h.startswith(compact)}
        if len(forms) > 1:
            raise AmbiguousCode(text)
        return forms.pop() if forms else None
    if TOKEN_RE.match(text):
        return _form_id(text)
    return None


def _form_id(raw_token: str) -> int | None:
    found = find_form(raw_token)
    return found.form_id if found is not None else None


# --- fast batch encoding -----------------------------------------------------------------

@dataclass(frozen=True)
class _Template:
    version: int
    error: int
    size: int
    base: np.ndarray  # uint8 (size, size): a finished symbol; data modules get overwritten
    rows: np.ndarray  # data module positions in placement order
    cols: np.ndarray
    mask_bits: np.ndarray  # mask value at each data module
    header_bits: np.ndarray  # mode indicator + character count
    data_codewords: int
    blocks: tuple[tuple[int, int], ...]  # (data codewords, error codewords) per block
    data_order: np.ndarray  # interleaving permutations
    ec_order: np.ndarray
    remainder: int


_LOG = np.array(sc.GALIOS_LOG, dtype=np.int64)
_EXP = np.array(sc.GALIOS_EXP, dtype=np.int64)


@lru_cache(maxsize=64)
def _mul_table(n_ec: int) -> np.ndarray:
    """MUL[c] = the generator's coefficients times c (GF(256)), for the LFSR division."""
    gen = np.array(sc.GEN_POLY[n_ec], dtype=np.int64)
    table = np.zeros((256, n_ec), dtype=np.uint8)
    for c in range(1, 256):
        table[c] = _EXP[_LOG[c] + gen]
    return table


@lru_cache(maxsize=64)
def _template(length: int) -> _Template:
    """The shared parts of every byte-mode symbol for ``length`` bytes of data."""
    ref = segno.make(b"\x61" * length, error=QR_ERROR, mask=QR_MASK, micro=False)
    version, error = cast(int, ref._version), cast(int, ref._error)  # segno's constants (the names are for show)
    size = len(ref.matrix)
    matrix = se.make_matrix(size, size)
    se.add_finder_patterns(matrix, size, size)
    se.add_alignment_patterns(matrix, size, size)
    rows: list[int] = []
    cols: list[int] = []
    for right in range(size - 1, 0, -2):  # the placement walk of se.add_codewords
        if right <= 6:
            right -= 1
        for vertical in range(size):
            for z in range(2):
                j = right - z
                upwards = ((right & 2) == 0) ^ (j < 6)
                i = (size - 1 - vertical) if upwards else vertical
                if matrix[i][j] == 0x2:
                    rows.append(i)
                    cols.append(j)
    mask_fn = se.get_data_mask_functions(False)[QR_MASK]
    mask_bits = np.array([1 if mask_fn(i, j) else 0 for i, j in zip(rows, cols, strict=True)],
                         dtype=np.uint8)
    blocks: list[tuple[int, int]] = []
    for ec in cast(Any, sc.ECC)[version][error]:
        blocks += [(ec.num_data, ec.num_total - ec.num_data)] * ec.num_blocks
    data_cw = sum(d for d, _ in blocks)
    starts_d = np.cumsum([0] + [d for d, _ in blocks])
    starts_e = np.cumsum([0] + [e for _, e in blocks])
    data_order = [starts_d[b] + k for k in range(max(d for d, _ in blocks))
                  for b, (d, _) in enumerate(blocks) if k < d]
    ec_order = [starts_e[b] + k for k in range(max(e for _, e in blocks))
                for b, (_, e) in enumerate(blocks) if k < e]
    count_bits = 8 if version < 10 else 16
    header = [0, 1, 0, 0] + [(length >> (count_bits - 1 - k)) & 1 for k in range(count_bits)]
    total_bits = (data_cw + sum(e for _, e in blocks)) * 8
    return _Template(
        version=version, error=error, size=size,
        base=np.array([list(r) for r in ref.matrix], dtype=np.uint8),
        rows=np.array(rows), cols=np.array(cols), mask_bits=mask_bits,
        header_bits=np.array(header, dtype=np.uint8), data_codewords=data_cw,
        blocks=tuple(blocks), data_order=np.array(data_order), ec_order=np.array(ec_order),
        remainder=len(rows) - total_bits)


def _encode_group(t: _Template, data: np.ndarray) -> np.ndarray:
    """Matrices (n, size, size) for ``data`` (n, length) bytes, all of one template."""
    n = data.shape[0]
    cap = t.data_codewords * 8
    bits = np.concatenate([np.broadcast_to(t.header_bits, (n, len(t.header_bits))),
                           np.unpackbits(data, axis=1)], axis=1)
    used = bits.shape[1]
    pad_bits = min(4, cap - used)  # terminator
    used += pad_bits
    # to a codeword boundary; like segno, a whole zero codeword when already on one (readers
    # stop at the terminator, and it keeps the matrices identical to segno's)
    pad_bits += (8 - used % 8) if used < cap else 0
    bits = np.concatenate([bits, np.zeros((n, pad_bits), dtype=np.uint8)], axis=1)
    cw = np.packbits(bits, axis=1)
    fill = t.data_codewords - cw.shape[1]
    if fill:
        pads = np.resize(np.array([0xEC, 0x11], dtype=np.uint8), fill)
        cw = np.concatenate([cw, np.broadcast_to(pads, (n, fill))], axis=1)
    ec_parts = []
    start = 0
    for d, e in t.blocks:
        table = _mul_table(e)
        rem = np.zeros((n, e), dtype=np.uint8)
        for k in range(d):
            coef = cw[:, start + k] ^ rem[:, 0]
            rem[:, :-1] = rem[:, 1:]
            rem[:, -1] = 0
            rem ^= table[coef]
        ec_parts.append(rem)
        start += d
    final = np.concatenate([cw[:, t.data_order], np.concatenate(ec_parts, axis=1)[:, t.ec_order]],
                           axis=1)
    stream = np.unpackbits(final, axis=1)
    if t.remainder:
        stream = np.concatenate([stream, np.zeros((n, t.remainder), dtype=np.uint8)], axis=1)
    out = np.repeat(t.base[None, :, :], n, axis=0)
    out[:, t.rows, t.cols] = stream ^ t.mask_bits
    return out


def qr_matrices(links: list[str]) -> list[np.ndarray]:
    """One QR matrix (uint8, 1 = dark, no quiet zone) per link, in order."""
    encoded = [link.encode("utf-8") for link in links]
    out: list[np.ndarray | None] = [None] * len(links)
    by_len: dict[int, list[int]] = {}
    for i, (link, b) in enumerate(zip(links, encoded, strict=True)):
        if link.isascii() and se.find_mode(b) == sc.MODE_BYTE and len(b) <= 1000:
            by_len.setdefault(len(b), []).append(i)
        else:  # numeric / alphanumeric / non-ASCII text: segno itself
            out[i] = qr_matrix_reference(link)
    for length, idx in by_len.items():
        t = _template(length)
        data = np.frombuffer(b"".join(encoded[i] for i in idx), dtype=np.uint8).reshape(
            len(idx), length)
        for k, m in enumerate(_encode_group(t, data)):
            out[idx[k]] = m
    return out  # type: ignore[return-value]


def qr_matrix_reference(link: str) -> np.ndarray:
    """segno's matrix for ``link`` with the same parameters (the reference the tests use)."""
    q = segno.make(link, error=QR_ERROR, mask=QR_MASK, micro=False)
    return np.array([list(r) for r in q.matrix], dtype=np.uint8)


# --- rendering ---------------------------------------------------------------------------

_SVG_TABLE_LIMIT = 45  # symbols up to version 5 with a quiet zone of 4 (links are version 4)


@lru_cache(maxsize=1)
def _svg_table() -> np.ndarray:
    """Every path step ``M x yhn`` for small symbols, so rendering is a lookup and a join."""
    n = _SVG_TABLE_LIMIT
    table = np.empty((n, n, n + 1), dtype=object)
    for x in range(n):
        for y in range(n):
            for k in range(n + 1):
                table[x, y, k] = f"M{x} {y}h{k}"
    return table


def svg_bytes(matrix: np.ndarray, scale: int = 4, border: int = BORDER) -> bytes:
    """A standalone SVG: one path of horizontal runs of dark modules."""
    size = matrix.shape[0]
    dim = (size + 2 * border) * scale
    padded = np.zeros((size, size + 2), dtype=np.int8)
    padded[:, 1:-1] = matrix
    diff = np.diff(padded, axis=1)
    starts = np.argwhere(diff == 1)  # row-major: rows ascending, then columns
    ends = np.argwhere(diff == -1)[:, 1]
    xs = starts[:, 1] + border
    ys = starts[:, 0] + border
    lengths = ends - starts[:, 1]
    limit = size + 2 * border
    if limit <= _SVG_TABLE_LIMIT:
        path = "".join(_svg_table()[xs, ys, lengths].tolist())
    else:
        path = "".join(map("M%d %dh%d".__mod__, zip(xs.tolist(), ys.tolist(),
                                                   lengths.tolist(), strict=True)))
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
            f'width="{dim}" height="{dim}" viewBox="0 0 {size + 2 * border} {size + 2 * border}">'
            f'<rect width="100%" height="100%" fill="#fff"/>'
            f'<path stroke="#000" stroke-width="1" transform="translate(0 .5)" '
            f'd="{path}"/></svg>\n').encode("ascii")


def png_bytes(matrix: np.ndarray, scale: int = 4, border: int = BORDER) -> bytes:
    """A 1-bit greyscale PNG (white quiet zone, black modules)."""
    img = np.pad(matrix, border)
    img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
    dim = img.shape[0]
    packed = np.packbits(1 - img, axis=1)  # 1 = white in greyscale
    raw = np.concatenate([np.zeros((dim, 1), dtype=np.uint8), packed], axis=1).tobytes()
    return _png(dim, raw)


def _by_size(matrices: list[np.ndarray]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i, m in enumerate(matrices):
        groups.setdefault(m.shape[0], []).append(i)
    return groups


def svg_many(matrices: list[np.ndarray], scale: int = 4, border: int = BORDER) -> list[bytes]:
    """:func:`svg_bytes` for many matrices at once (same output, numpy over the batch)."""
    out: list[bytes] = [b""] * len(matrices)
    for size, idx in _by_size(matrices).items():
        limit = size + 2 * border
        if limit > _SVG_TABLE_LIMIT:
            for i in idx:
                out[i] = svg_bytes(matrices[i], scale, border)
            continue
        stack = np.zeros((len(idx), size, size + 2), dtype=np.int8)
        stack[:, :, 1:-1] = np.stack([matrices[i] for i in idx])
        diff = np.diff(stack, axis=2)
        starts = np.argwhere(diff == 1)  # (matrix, row, column), in order
        ends = np.argwhere(diff == -1)[:, 2]
        steps = _svg_table()[starts[:, 2] + border, starts[:, 1] + border,
                             ends - starts[:, 2]].tolist()
        bounds = np.searchsorted(starts[:, 0], np.arange(len(idx) + 1)).tolist()
        dim = limit * scale
        head = (f'<?xml version="1.0" encoding="utf-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
                f'width="{dim}" height="{dim}" viewBox="0 0 {limit} {limit}">'
                f'<rect width="100%" height="100%" fill="#fff"/>'
                f'<path stroke="#000" stroke-width="1" transform="translate(0 .5)" d="')
        for k, i in enumerate(idx):
            out[i] = (head + "".join(steps[bounds[k]:bounds[k + 1]])
                      + '"/></svg>\n').encode("ascii")
    return out


def png_many(matrices: list[np.ndarray], scale: int = 4, border: int = BORDER) -> list[bytes]:
    """:func:`png_bytes` for many matrices at once (same output, numpy over the batch)."""
    out: list[bytes] = [b""] * len(matrices)
    for idx in _by_size(matrices).values():
        stack = np.pad(np.stack([matrices[i] for i in idx]), ((0, 0), (border, border),
                                                              (border, border)))
        # widen, pack to bits, then repeat the packed rows (cheaper than scaling pixels)
        packed = np.packbits(1 - np.repeat(stack, scale, axis=2), axis=2)
        packed = np.repeat(packed, scale, axis=1)
        dim = packed.shape[1]
        raw = np.concatenate([np.zeros((len(idx), dim, 1), dtype=np.uint8), packed], axis=2)
        for k, i in enumerate(idx):
            out[i] = _png(dim, raw[k].tobytes())
    return out


def _png(dim: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (len(body).to_bytes(4, "big") + kind + body
                + zlib.crc32(kind + body).to_bytes(4, "big"))

    header = dim.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])
    return b"".join((b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", header),
                     chunk(b"IDAT", zlib.compress(raw, 1)), chunk(b"IEND", b"")))
