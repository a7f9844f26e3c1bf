"""Inline citations placed as an answer streams: each sentence is checked against the run's
passages when it ends, and gets `[n]` markers for the passages that support it.

The model's own markers are hints, never output: they are taken out of the text, and the
checked numbers go back in before the sentence's final punctuation ("... two years [1].").
A sentence the check finds unsupported gets no marker at all, and every marker names a
passage of this run. Only markers and sentence ends wait for the check; prose is passed on
as it arrives, so the first token is not delayed. The claims come out with offsets into
exactly the text that was emitted (`final.content` = the concatenated deltas).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from ragline.services.claim_text import (
    LEADER,
    MARKER,
    abbreviated,
    cited_numbers,
    strip_markers,
)
from ragline.services.claims import Claim, SentenceCheck, Verdict

log = logging.getLogger(__name__)

_SPECIAL = re.compile(r"[\s\[.!?]")
_CLOSERS = "\"')]*_"
_PARTIAL_MARKER = re.compile(r"\[\s*(?:\d{1,3}(?:\s*[,;]\s*(?:\d{1,3})?)*\s*)?")
_MAX_MARKER = 24  # characters a marker may take while it is still arriving


def _may_become_marker(text: str) -> bool:
    """Whether `text` is the start of a marker still arriving ("[", "[1", "[1, ")."""
    return len(text) < _MAX_MARKER and _PARTIAL_MARKER.fullmatch(text) is not None


class CitationPlacer:
    """Feed it the model's deltas; it returns what to stream, markers placed and checked."""

    def __init__(self, check: SentenceCheck) -> None:
        self.check = check
        self.text = ""  # everything emitted so far
        self.claims: list[Claim] = []
        self._pending = ""  # received, not yet emitted
        self._line_kind: str | None = None  # "prose", "skip" (heading, table, code) or None
        self._in_code = False
        self._sentence_start = 0
        self._cited: list[int] = []
        self._open: tuple[int, Verdict] | None = None  # the checked sentence being emitted

    async def feed(self, delta: str) -> str:
        self._pending += delta
        return await self._drain(final=False)

    async def close(self) -> str:
        """The rest of the answer, its last sentence checked."""
        out = await self._drain(final=True)
        out += self._emit(await self._end_sentence())
        self._close_claim()
        return out

    def flush_raw(self) -> str:
        """What is held back, unchecked (a run stopped mid-sentence keeps its text)."""
        raw, self._pending = self._pending, ""
        return self._emit(raw)

    def claims_out(self) -> list[dict[str, Any]]:
        return [c.as_dict() for c in self.claims]

    def _emit(self, piece: str) -> str:
        self.text += piece
        return piece

    async def _drain(self, *, final: bool) -> str:
        out: list[str] = []
        while self._pending:
            step = await self._step(final)
            if step is None:
                break  # needs more text
            out.append(step)
        return "".join(out)

    async def _step(self, final: bool) -> str | None:
        """Emit the next piece of pending text; None while what comes next is undecided."""
        pending = self._pending
        if self._line_kind is None:
            kind = self._classify(pending, final)
            if kind is None:
                return None
            self._line_kind = kind
        if self._line_kind == "skip":
            cut = pending.find("\n")
            if cut < 0:
                return self._take(len(pending))
            piece = self._take(cut + 1)
            self._new_line()
            return piece
        match = _SPECIAL.search(pending)
        if match is None:
            return self._take(len(pending))
        if match.start():
            return self._take(match.start())
        char = pending[0]
        if char == "\n":
            markers = self._emit(await self._end_sentence())
            self._close_claim()
            self._pending = self._pending[1:]
            piece = markers + self._emit("\n")
            self._new_line()
            return piece
        if char.isspace():
            return self._space(final)
        if char == "[":
            return self._marker(final)
        return await self._punctuation(final)

    def _take(self, size: int) -> str:
        piece, self._pending = self._pending[:size], self._pending[size:]
        return self._emit(piece)

    def _new_line(self) -> None:
        self._line_kind = None
        self._sentence_start = len(self.text)
        self._cited = []

    def _classify(self, pending: str, final: bool) -> str | None:
        body = pending.lstrip(" \t")
        if not body or (body[0] in "`~" and len(body) < 3):
            return "prose" if final else None
        if body.startswith(("```", "~~~")):
            self._in_code = not self._in_code
            return "skip"
        if self._in_code or body[0] in "#|":
            return "skip"
        return "prose"

    def _space(self, final: bool) -> str | None:
        """Spaces before a marker go with it; before a line break, after the markers."""
        pending = self._pending
        rest = pending.lstrip(" \t")
        if not rest:
            return self._take(len(pending)) if final else None
        size = len(pending) - len(rest)
        if rest[0] == "[":
            found = MARKER.match(rest)
            if found:
                self._cited.extend(cited_numbers(found.group()))
                self._pending = rest[found.end():]
                return ""
            if not final and _may_become_marker(rest):
                return None
        if rest[0] == "\n":
            self._pending = rest  # the break places the markers; trailing spaces are dropped
            return ""
        return self._take(size)

    def _marker(self, final: bool) -> str | None:
        found = MARKER.match(self._pending)
        if found:
            self._cited.extend(cited_numbers(found.group()))
            self._pending = self._pending[found.end():]
            return ""
        if not final and _may_become_marker(self._pending):
            return None
        return self._take(1)

    async def _punctuation(self, final: bool) -> str | None:
        """A sentence ends at . ! ? (closers and markers may follow) before a space or the end."""
        pending = self._pending
        at = 1
        while at < len(pending) and pending[at] in _CLOSERS and pending[at] != "[":
            at += 1
        tail = pending[at:]
        cited: list[int] = []
        while True:  # markers the model wrote after the full stop
            stripped = tail.lstrip(" \t")
            found = MARKER.match(stripped)
            if not found:
                break
            cited.extend(cited_numbers(found.group()))
            tail = stripped[found.end():]
        after = tail.lstrip(" \t")
        if not final and (not after or _may_become_marker(after)):
            return None  # a marker the model puts after the full stop may still come
        ends = not tail or tail[0].isspace()
        line = self.text[self.text.rfind("\n") + 1:]
        if not ends or (pending[0] == "." and abbreviated(line)):
            return self._take(1)
        self._cited.extend(cited)
        closing = pending[:at]
        self._pending = tail
        markers = await self._end_sentence()
        piece = self._emit(markers + closing)
        self._close_claim()
        self._sentence_start = len(self.text)
        self._cited = []
        return piece

    async def _end_sentence(self) -> str:
        """The checked markers of the sentence that ends here ("" when unsupported)."""
        raw = self.text[self._sentence_start:]
        stripped = raw.lstrip()
        lead = len(raw) - len(stripped)
        leader = LEADER.match(stripped)
        if leader:
            lead += leader.end()
        prose = strip_markers(raw[lead:])
        self._open = None
        if not prose or self._line_kind == "skip":
            return ""
        try:
            verdict = await self.check(prose, tuple(dict.fromkeys(self._cited)))
        except Exception:
            log.exception("checking a sentence failed; it goes without markers")
            verdict = None
        if verdict is None:
            return ""
        self._open = (self._sentence_start + lead, verdict)
        if not verdict.supported:
            return ""
        return " " + "".join(f"[{n}]" for n in verdict.sources)

    def _close_claim(self) -> None:
        """Record the sentence just emitted (called once its end is in `text`)."""
        if self._open is None:
            return
        start, verdict = self._open
        end = len(self.text.rstrip())
        self.claims.append(Claim(self.text[start:end], start, end, list(verdict.sources),
                                 verdict.supported, verdict.score))
        self._open = None
