"""Go's ``%q`` quoting (``strconv.Quote``), for error messages that must read
exactly as the official gateway's do.

Printable runes stay as they are (Go's "printable" — letters, marks, numbers,
punctuation, symbols and the ASCII space — is the set :meth:`str.isprintable`
accepts, up to the Unicode version); ``"`` and ``\\`` are backslashed; bytes
that are not valid UTF-8 (kept in a ``str`` as ``surrogateescape`` or as a
stray surrogate) become ``\\xNN``, one per byte; other runes use Go's short
escapes, ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``.
"""

from __future__ import annotations

from typing import Final

_SHORT_ESCAPES: Final = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def escape_rune(c: str) -> str:
    """The escape Go's quoting uses for the non-printable rune ``c``."""
    special = _SHORT_ESCAPES.get(c)
    if special is not None:
        return special
    o = ord(c)
    if o < 0x20 or o == 0x7F:
        return f"\\x{o:02x}"
    if 0xD800 <= o <= 0xDFFF:
        return "\\ufffd"  # not a valid rune: Go substitutes U+FFFD
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def go_quote(s: str) -> str:
    """``s`` quoted like Go's ``%q``."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    out = ['"']
    for c in s:
        o = ord(c)
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif 0xD800 <= o <= 0xDFFF:
            # Invalid UTF-8 kept by surrogateescape, or a stray surrogate
            # (whose bytes Go would hold): each byte prints as \xNN.
            handler = "surrogateescape" if 0xDC80 <= o <= 0xDCFF else "surrogatepass"
            out.extend(f"\\x{b:02x}" for b in c.encode("utf-8", handler))
        elif c.isprintable():
            out.append(c)
        else:
            out.append(escape_rune(c))
    out.append('"')
    return "".join(out)
