"""The exact-term bonus in hybrid search, on SQLite and PostgreSQL: passages that hold the
query's rare terms outrank passages that vectors (and a common question word) bring in."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.services.documents import DocumentService
from ragline.services.pipeline import AnswerPipeline, PipelineConfig, Prompts
from ragline.services.prompt_layout import NO_PASSAGES
from ragline.services.runs import RunInput
from tests.fakes import FakeModels
from tests.integration.documents_support import (
    add_user,
    running_service,
    settings_for,
    wait_for_job,
)

# Two people name Terraform in passing; four others did infrastructure as code without it,
# in words much closer to the question (and with its "worked").
DOCS = {
    "bea.txt": "Bea bakes sourdough bread and sails on weekends. Tools: Terraform, Vue.js.",
    "carl.txt": "Carl builds garden furniture from oak and keeps bees. He knows Terraform.",
    "dana.txt": "Dana worked with Ansible to provision cloud infrastructure as code.",
    "emil.txt": "Emil worked with Pulumi, writing infrastructure as code for cloud servers.",
    "fay.txt": "Fay worked with CloudFormation templates to provision cloud infrastructure.",
    "gus.txt": "Gus worked with Chef and Puppet on infrastructure provisioning in the cloud.",
    "hal.txt": "Hal studied in Lyon and worked with Node.js on a web shop.",
}


async def _ingest(service: DocumentService) -> str:
    owner = await add_user(service.db)
    for name, text in DOCS.items():
        registered = await service.upload(owner, filename=name, data=text.encode())
        assert (await wait_for_job(service, owner, registered.job.id)).status == "ready"
    return owner


async def _sources(service: DocumentService, owner: str, query: str, top_k: int) -> list[str]:
    return [h["source"] for h in await service.search(owner, query, None, top_k, "hybrid")]


@pytest.mark.parametrize("query", ["Terraform", "Who has worked with Terraform?"])
async def test_passages_naming_a_rare_term_come_first(
    database_url: str, tmp_path: Path, query: str
) -> None:
    async with running_service(settings_for(database_url, tmp_path / "data")) as service:
        owner = await _ingest(service)
        hits = await service.search(owner, query, None, 5, "hybrid")
        assert {h["source"] for h in hits[:2]} == {"bea.txt", "carl.txt"}
        assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


async def test_a_dotted_name_and_a_term_found_nowhere(database_url: str, tmp_path: Path) -> None:
    """"speaks" occurs in no passage and weighs nothing; "Vue.js" is one lexeme in PostgreSQL."""
    async with running_service(settings_for(database_url, tmp_path / "data")) as service:
        owner = await _ingest(service)
        assert (await _sources(service, owner, "Who speaks Terraform?", 5))[:2] in (
            ["bea.txt", "carl.txt"], ["carl.txt", "bea.txt"])
        assert (await _sources(service, owner, "Vue.js", 1)) == ["bea.txt"]
        assert (await _sources(service, owner, "Who has worked with Node.js?", 1)) == ["hal.txt"]


async def test_without_the_bonus_vectors_push_the_rare_term_down(
    database_url: str, tmp_path: Path
) -> None:
    """The case the bonus is for (search_term_boost=0: plain RRF)."""
    settings = settings_for(database_url, tmp_path / "data", search_term_boost=0)
    async with running_service(settings) as service:
        owner = await _ingest(service)
        top = await _sources(service, owner, "Who has worked with Terraform?", 2)
        assert set(top) != {"bea.txt", "carl.txt"}


async def test_hits_carry_their_share_of_the_querys_selective_terms(
    database_url: str, tmp_path: Path
) -> None:
    """`term_match`: 1.0 for a passage holding every selective term ("worked", in five of seven
    passages, weighs nothing); 0 where most of the query's words occur nowhere, and outside
    hybrid mode."""
    async with running_service(settings_for(database_url, tmp_path / "data")) as service:
        owner = await _ingest(service)
        hits = await service.search(owner, "Who has worked with Terraform?", None, 7, "hybrid")
        matched = {h["source"]: h["term_match"] for h in hits}
        assert matched["bea.txt"] == matched["carl.txt"] == 1.0
        assert all(v == 0.0 for s, v in matched.items() if s not in ("bea.txt", "carl.txt"))
        # "speaks" occurs nowhere: one known word of two still counts
        hits = await service.search(owner, "Who speaks Terraform?", None, 2, "hybrid")
        assert [h["term_match"] for h in hits] == [1.0, 1.0]
        # one known word ("Lyon") of five: a question about something else
        hits = await service.search(owner, "Which football team won the cup in Lyon?", None, 7,
                                    "hybrid")
        assert all(h["term_match"] == 0.0 for h in hits)
        for mode in ("bm25", "vector"):
            hits = await service.search(owner, "Who has worked with Terraform?", None, 7, mode)
            assert all(h["term_match"] == 0.0 for h in hits)


IVY = ("Contact: ivy@example.com, +44 20 7946 0958, Leeds. Hobbies: pottery, chess, choir. "
       "Terraform.")


async def test_answers_keep_passages_naming_the_rare_term_under_the_cosine_floor(
    database_url: str, tmp_path: Path
) -> None:
    """Ivy's contact card is far from the question's vector but names Terraform: the answer's
    passages keep it. Unrelated questions still find nothing."""
    settings = settings_for(database_url, tmp_path / "data")
    async with running_service(settings) as service:
        owner = await _ingest(service)
        registered = await service.upload(owner, filename="ivy.txt", data=IVY.encode())
        assert (await wait_for_job(service, owner, registered.job.id)).status == "ready"
        pipeline = AnswerPipeline(FakeModels(), service, Prompts(), PipelineConfig(
            min_score=settings.retrieval_min_score,
            min_term_match=settings.retrieval_min_term_match))

        async def sources(question: str) -> tuple[list[str], str]:
            prepared = await pipeline.prepare(RunInput(
                run_id="r", thread_id="t", owner_id=owner, model="scripted", question=question,
                history=[], collection="default", response_format=None))
            return [p["source"] for p in prepared.sources or []], prepared.messages[-1].content

        hits = await service.search(owner, "Who has worked with Terraform?", "default", 5)
        under = [h["source"] for h in hits if h["relevance"] < settings.retrieval_min_score]
        assert "ivy.txt" in under  # the case: below the floor
        kept, _ = await sources("Who has worked with Terraform?")
        assert {"bea.txt", "carl.txt", "ivy.txt"} <= set(kept)
        for unrelated in ("who won the football world cup in 1998",
                          "Which football team won the cup in Lyon?"):
            kept, prompt = await sources(unrelated)
            assert kept == [] and NO_PASSAGES in prompt, unrelated
