"""The run-event vocabulary (docs/api.md §1): six typed events, each read from and written as the
`{type, data}` payload of the run-event log. Payloads keep their exact keys and key order, so a
view that re-encodes an event writes the bytes the log holds."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

PASSAGE_KEYS = (
    "chunk_id", "document_id", "source", "title", "page", "heading", "text", "score", "relevance",
)


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrieved passage of an answer's `sources` (the keys `DocumentService.search` gives).

    Read from a payload it keeps that mapping, so `to_payload` returns it unchanged (key order
    and any key added later included)."""

    source: str
    text: str = ""
    document_id: str | None = None
    chunk_id: str | int | None = None
    title: str | None = None
    page: int | None = None
    heading: str | None = None
    score: float | None = None
    relevance: float | None = None
    payload: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Passage:
        return cls(
            source=str(data.get("source", "")), text=str(data.get("text", "")),
            document_id=data.get("document_id"), chunk_id=data.get("chunk_id"),
            title=data.get("title"), page=data.get("page"), heading=data.get("heading"),
            score=data.get("score"), relevance=data.get("relevance"), payload=data,
        )

    def to_payload(self) -> dict[str, Any]:
        if self.payload is not None:
            return dict(self.payload)
        return {key: getattr(self, key) for key in PASSAGE_KEYS}


def passages(data: Sequence[Mapping[str, Any]] | None) -> tuple[Passage, ...]:
    return tuple(Passage.from_payload(p) for p in data or ())


def passage_payloads(sources: Sequence[Passage]) -> list[dict[str, Any]]:
    return [p.to_payload() for p in sources]


def _some(**fields: Any) -> dict[str, Any]:
    """The optional fields that are set, in the order given (an unset one is absent, not null)."""
    return {k: v for k, v in fields.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Status:
    """The run's state, with the stage it is in (`retrieving`, `reading` with its `progress`,
    `generating`, `queued` with its `position` at the engine)."""

    type: ClassVar[str] = "status"
    status: str
    stage: str | None = None
    progress: float | None = None
    position: int | None = None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Status:
        return cls(str(data.get("status", "")), data.get("stage"), data.get("progress"),
                   data.get("position"))

    def payload(self) -> dict[str, Any]:
        return {"status": self.status,
                **_some(stage=self.stage, progress=self.progress, position=self.position)}


@dataclass(frozen=True, slots=True)
class Sources:
    """The passages the answer is grounded on, before its first token."""

    type: ClassVar[str] = "sources"
    sources: tuple[Passage, ...] = ()

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Sources:
        return cls(passages(data.get("sources")))

    def payload(self) -> dict[str, Any]:
        return {"sources": passage_payloads(self.sources)}


@dataclass(frozen=True, slots=True)
class Token:
    type: ClassVar[str] = "token"
    delta: str

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Token:
        return cls(str(data.get("delta", "")))

    def payload(self) -> dict[str, Any]:
        return {"delta": self.delta}


@dataclass(frozen=True, slots=True)
class Final:
    """The stored answer: `data` for structured output, `claims` when it was checked."""

    type: ClassVar[str] = "final"
    message_id: str | None
    content: str
    sources: tuple[Passage, ...] = ()
    usage: Mapping[str, int] = field(default_factory=dict)
    model: str | None = None
    data: Any = None
    claims: Sequence[Mapping[str, Any]] | None = None

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Final:
        claims = data.get("claims")
        return cls(
            data.get("message_id"), str(data.get("content", "")), passages(data.get("sources")),
            dict(data.get("usage") or {}), data.get("model"), data.get("data"),
            None if claims is None else list(claims),
        )

    def payload(self) -> dict[str, Any]:
        out = {"message_id": self.message_id, "content": self.content,
               "sources": passage_payloads(self.sources), "usage": dict(self.usage),
               "model": self.model}
        claims = None if self.claims is None else [dict(c) for c in self.claims]
        return {**out, **_some(data=self.data, claims=claims)}


@dataclass(frozen=True, slots=True)
class Error:
    type: ClassVar[str] = "error"
    code: str
    message: str

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Error:
        return cls(str(data.get("code", "error")), str(data.get("message", "")))

    def payload(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class Done:
    """The last event: how the run ended (`done`, `failed` or `cancelled`)."""

    type: ClassVar[str] = "done"
    status: str

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Done:
        return cls(str(data.get("status", "done")))

    def payload(self) -> dict[str, Any]:
        return {"status": self.status}


RunEvent = Status | Sources | Token | Final | Error | Done
_PARSERS: dict[str, Callable[[Mapping[str, Any]], RunEvent]] = {
    kind.type: kind.from_payload for kind in (Status, Sources, Token, Final, Error, Done)
}
EVENT_TYPES = frozenset(_PARSERS)


def parse_event(type_: str, data: Mapping[str, Any]) -> RunEvent:
    """The typed event of a log entry; an unknown type is a `ValueError`."""
    try:
        parse = _PARSERS[type_]
    except KeyError:
        raise ValueError(f"unknown run event type {type_!r}") from None
    return parse(data)
