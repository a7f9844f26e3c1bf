"""The MCP server: the tools of `tools.py` with exact input schemas, and one resource per
collection. Both transports build it; they differ only in how they find the caller.

Tool failures are MCP tool errors (`isError`) whose text is the REST API's error body,
`{"error": {"code", "message", "details"}}`; the session itself never fails because of them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import quote, unquote

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError, UnexpectedToolError
from mcp_types import ListResourcesResult, PaginatedRequestParams, Resource, ToolAnnotations
from mcp_types import Tool as MCPTool
from pydantic import Field, ValidationError

from ragline.domain.errors import NotFound, RaglineError
from ragline.mcp import tools
from ragline.web.errors import error_body

log = logging.getLogger(__name__)

Resolve = Callable[[ServerRequestContext[Any, Any] | None], tools.Caller]
COLLECTION_URI = "ragline://collections/{name}"
INSTRUCTIONS = (
    "ragline holds the user's documents in collections. Use `search` to find passages, "
    "`ask` for an answer grounded in them with numbered citations [n] into its sources, "
    "`get_document` to read a document page by page, and `list_collections` to see what exists."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

Query = Annotated[str, Field(min_length=1, max_length=4000,
                             description="What to look for, in natural language or keywords.")]
Question = Annotated[str, Field(min_length=1, max_length=32_000,
                                description="The question to answer from the documents.")]
CollectionName = Annotated[str | None, Field(
    min_length=1, max_length=200,
    description="A collection name (see list_collections); omitted: every collection.")]
AskCollection = Annotated[str | None, Field(
    min_length=1, max_length=200,
    description="The collection to answer from; omitted: `default`, or the thread's own.")]
TopK = Annotated[int, Field(ge=1, le=50, description="How many passages to return.")]
Mode = Annotated[Literal["hybrid", "bm25", "vector"], Field(
    description="Ranking: `hybrid` (keywords and meaning, fused), `bm25` or `vector`.")]
ThreadId = Annotated[str | None, Field(
    min_length=1, max_length=64,
    description="Continue this conversation (a `thread_id` an earlier `ask` returned).")]
DocumentId = Annotated[str, Field(min_length=1, max_length=64,
                                  description="A `document_id` from search or a collection.")]
Page = Annotated[int | None, Field(
    ge=1, description="The page to read, from 1 (PDF pages; other formats: ~3,000 characters "
    "a page); omitted: the first.")]


def error_text(code: str, message: str, details: Any = None) -> str:
    return json.dumps(error_body(code, message, details))


def validation_text(exc: ValidationError) -> str:
    details = [{"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]}
               for err in exc.errors()]
    first = details[0] if details else {"loc": [], "msg": "invalid arguments"}
    where = ".".join(str(part) for part in first["loc"]) or "arguments"
    return error_text("validation_error", f"{where}: {first['msg']}", details)


class RaglineMCP(MCPServer[Any]):
    """MCPServer with per-caller resources, closed input schemas and the contract's errors."""

    def __init__(self, resolve: Resolve) -> None:
        root = logging.getLogger()  # MCPServer() calls logging.basicConfig: keep ours
        handlers, level = list(root.handlers), root.level
        super().__init__("ragline", title="ragline", instructions=INSTRUCTIONS, version="0.1.0",
                         log_level="WARNING")
        root.handlers[:], root.level = handlers, level
        self.resolve = resolve

    def caller(self, ctx: Context[Any, Any]) -> tools.Caller:
        return self.resolve(ctx.request_context)

    async def list_tools(self) -> list[MCPTool]:
        listed = await super().list_tools()
        return [t.model_copy(update={"input_schema": {**t.input_schema,
                                                      "additionalProperties": False}})
                for t in listed]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        schemas = {t.name: t.input_schema for t in await super().list_tools()}
        known = schemas.get(name, {}).get("properties", {})
        unknown = sorted(set(arguments) - set(known))
        if name in schemas and unknown:
            raise ToolError(error_text("validation_error", f"unknown argument: {unknown[0]}",
                                       {"unknown": unknown}))
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            log.error("MCP tool %r failed", name, exc_info=exc.__cause__)
            raise ToolError(error_text("internal_error", "an unexpected error occurred")) from exc
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                raise ToolError(validation_text(cause)) from cause
            if isinstance(cause, ToolError):  # ours: drop the SDK's "Error executing tool"
                raise ToolError(str(cause)) from cause
            raise

    async def _handle_list_resources(
        self, ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        """One resource per collection of the caller (the SDK's list is static)."""
        listed = await tools.list_collections(self.resolve(ctx))
        return ListResourcesResult(resources=[
            Resource(uri=collection_uri(c.name), name=c.name, title=f"Collection {c.name}",
                     description=f"{c.documents} documents, {c.chunks} chunks",
                     mime_type="application/json")
            for c in listed.collections
        ])


def collection_uri(name: str) -> str:
    return COLLECTION_URI.replace("{name}", quote(name, safe=""))


def _tool_error(exc: RaglineError) -> ToolError:
    return ToolError(error_text(exc.code, exc.message, exc.details))


def build_server(resolve: Resolve) -> RaglineMCP:
    server = RaglineMCP(resolve)

    @server.tool(annotations=READ_ONLY, description=(
        "Search the user's documents. Returns the best passages first, each with its "
        "document, source, page and score."))
    async def search(
        query: Query, ctx: Context[Any, Any], collection: CollectionName = None,
        top_k: TopK = 5, mode: Mode = "hybrid",
    ) -> tools.SearchResult:
        try:
            return await tools.search(server.caller(ctx), query, collection, top_k, mode)
        except RaglineError as exc:
            raise _tool_error(exc) from exc

    @server.tool(description=(
        "Answer a question from the user's documents, with numbered citations [n] into "
        "`sources`. Starts a conversation (or continues `thread_id`), which the user also "
        "sees in ragline's UI and API. Reports progress while it runs."))
    async def ask(
        question: Question, ctx: Context[Any, Any], collection: AskCollection = None,
        thread_id: ThreadId = None,
    ) -> tools.AskResult:
        step = 0

        async def report(message: str) -> None:
            nonlocal step
            step += 1
            await ctx.report_progress(step, None, message)

        try:
            return await tools.ask(server.caller(ctx), question, collection, thread_id, report)
        except RaglineError as exc:
            raise _tool_error(exc) from exc

    @server.tool(annotations=READ_ONLY, description=(
        "List the user's collections with their document and chunk counts."))
    async def list_collections(ctx: Context[Any, Any]) -> tools.CollectionList:
        try:
            return await tools.list_collections(server.caller(ctx))
        except RaglineError as exc:
            raise _tool_error(exc) from exc

    @server.tool(annotations=READ_ONLY, description=(
        "A document's metadata and the text of one page; `next_page` says how to go on."))
    async def get_document(
        document_id: DocumentId, ctx: Context[Any, Any], page: Page = None
    ) -> tools.DocumentPage:
        try:
            return await tools.get_document(server.caller(ctx), document_id, page)
        except RaglineError as exc:
            raise _tool_error(exc) from exc

    @server.resource(COLLECTION_URI, name="collection", mime_type="application/json",
                     description="A collection and its documents.")
    async def collection(name: str, ctx: Context[Any, Any]) -> str:
        try:
            listing = await tools.collection_listing(server.caller(ctx), unquote(name))
        except NotFound as exc:
            raise ResourceNotFoundError(exc.message) from exc
        return listing.model_dump_json()

    return server
