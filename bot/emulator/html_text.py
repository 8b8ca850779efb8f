"""Telegram's ``parse_mode=HTML`` dialect: validation, entity extraction, length counting.

Telegram rejects anything outside its small tag whitelist and counts message limits on the
*parsed* text in UTF-16 code units, so a bot that forgets to escape user input (``<``, ``&``)
or that measures the raw HTML string gets caught here just as it would in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError

_PREFIX = "Bad Request: can't parse entities: "

# tag name -> entity type ("" means: decided by attributes / context)
_SIMPLE_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_ATTR_TAGS = {"a", "span", "tg-emoji"}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ATTR_RE = re.compile(r"""\s*([a-zA-Z_-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);")


def _char_code(body: str) -> int:
    """Code point of a numeric entity body like ``#65`` or ``#x41``."""
    if body[1:2] in "xX":
        return int("0x" + body[2:], 16)
    return int(body[1:])


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units, so emoji count as 2)."""
    return len(text.encode("utf-16-le")) // 2


def _error(reason: str) -> ApiError:
    return ApiError(400, _PREFIX + reason)


@dataclass
class _Open:
    name: str
    entity: dict[str, Any] | None
    start: int  # UTF-16 offset in the output text
    byte_offset: int


@dataclass
class _Parser:
    source: str
    out: list[str] = field(default_factory=list)
    out_len: int = 0  # UTF-16 length of the text emitted so far
    stack: list[_Open] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)

    def byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode("utf-8"))

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.out_len += utf16_len(text)

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        src = self.source
        i = 0
        while i < len(src):
            ch = src[i]
            if ch == "<":
                i = self.tag(i)
            elif ch == "&":
                i = self.char_entity(i)
            else:
                nxt = min(
                    (p for p in (src.find("<", i), src.find("&", i)) if p != -1), default=len(src)
                )
                self.emit(src[i:nxt])
                i = nxt
        if self.stack:
            raise _error(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def char_entity(self, i: int) -> int:
        m = _ENTITY_RE.match(self.source, i)
        if not m:
            raise _error(
                "Character '&' is reserved and must be escaped at byte offset "
                f"{self.byte_offset(i)}"
            )
        body = m.group(1)
        if body.startswith("#"):
            code = _char_code(body)
            try:
                self.emit(chr(code))
            except (ValueError, OverflowError):
                raise _error(
                    f"Unsupported HTML entity at byte offset {self.byte_offset(i)}"
                ) from None
        elif body in _NAMED_ENTITIES:
            self.emit(_NAMED_ENTITIES[body])
        else:
            raise _error(f'Unsupported HTML entity "&{body};" at byte offset {self.byte_offset(i)}')
        return m.end()

    def tag(self, i: int) -> int:
        src = self.source
        end = src.find(">", i)
        if end == -1:
            raise _error(f"Unclosed start tag at byte offset {self.byte_offset(i)}")
        inner = src[i + 1 : end]
        if inner.startswith("/"):
            self.close_tag(inner[1:].strip().lower(), i)
            return end + 1
        m = re.match(r"([a-zA-Z][a-zA-Z0-9-]*)", inner)
        if not m:
            raise _error(
                f'Unsupported start tag "{inner[:20]}" at byte offset {self.byte_offset(i)}'
            )
        name = m.group(1).lower()
        attrs = self.parse_attrs(inner[m.end() :], i)
        if name not in _SIMPLE_TAGS and name not in _ATTR_TAGS:
            raise _error(f'Unsupported start tag "{name}" at byte offset {self.byte_offset(i)}')
        self.stack.append(
            _Open(name, self.entity_for(name, attrs, i), self.out_len, self.byte_offset(i))
        )
        return end + 1

    def parse_attrs(self, text: str, i: int) -> dict[str, str]:
        attrs: dict[str, str] = {}
        pos = 0
        text = text.rstrip().removesuffix("/")
        while pos < len(text):
            m = _ATTR_RE.match(text, pos)
            if not m or m.end() == pos:
                raise _error(
                    "Expected equal sign in declaration of an attribute of the tag at byte "
                    f"offset {self.byte_offset(i)}"
                )
            value = next((g for g in m.groups()[1:] if g is not None), "")
            attrs[m.group(1).lower()] = self.unescape_attr(value)
            pos = m.end()
        return attrs

    @staticmethod
    def unescape_attr(value: str) -> str:
        def repl(m: re.Match[str]) -> str:
            body = m.group(1)
            if body.startswith("#"):
                return chr(_char_code(body))
            return _NAMED_ENTITIES.get(body, m.group(0))

        return _ENTITY_RE.sub(repl, value)

    def entity_for(self, name: str, attrs: dict[str, str], i: int) -> dict[str, Any] | None:
        if name == "a":
            href = attrs.get("href")
            # Telegram silently drops links without (or with an empty) href.
            return {"type": "text_link", "url": href} if href else None
        if name == "span":
            if attrs.get("class") != "tg-spoiler":
                raise _error(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset(i)}'
                )
            return {"type": "spoiler"}
        if name == "tg-emoji":
            emoji_id = attrs.get("emoji-id")
            if not emoji_id:
                raise _error(
                    'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
                    f"{self.byte_offset(i)}"
                )
            return {"type": "custom_emoji", "custom_emoji_id": emoji_id}
        if name == "blockquote" and "expandable" in attrs:
            return {"type": "expandable_blockquote"}
        if name == "code" and self.stack and self.stack[-1].name == "pre":
            lang = attrs.get("class", "")
            pre = self.stack[-1].entity
            if pre is not None and lang.startswith("language-"):
                pre["language"] = lang[len("language-") :]
            return None  # <pre><code> is a single pre entity
        return {"type": _SIMPLE_TAGS[name]}

    def close_tag(self, name: str, i: int) -> None:
        if not self.stack:
            raise _error(f"Unexpected end tag at byte offset {self.byte_offset(i)}")
        top = self.stack[-1]
        if top.name != name:
            raise _error(
                f"Unmatched end tag at byte offset {self.byte_offset(i)}, "
                f'expected "</{top.name}>", found "</{name}>"'
            )
        self.stack.pop()
        length = self.out_len - top.start
        if top.entity is not None and length > 0:
            self.entities.append({**top.entity, "offset": top.start, "length": length})


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-HTML into (plain text, entities); raise ApiError like Telegram does."""
    return _Parser(text).run()


def parse_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None
) -> tuple[str, list[dict[str, Any]]]:
    """Apply ``parse_mode`` (only HTML is really parsed) or explicit entities."""
    mode = (parse_mode or "").strip().lower()
    if mode == "html":
        return parse_html(text)
    if mode in ("", "none"):
        return text, list(entities or [])
    if mode in ("markdown", "markdownv2"):
        # Markdown isn't used by this project; accept the text verbatim instead of guessing.
        return text, []
    raise ApiError(400, f'Bad Request: unsupported parse_mode "{parse_mode}"')
