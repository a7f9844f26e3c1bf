"""The exact-term bonus in hybrid search, on SQLite and PostgreSQL: passages that hold the
query's rare terms outrank passages that vectors (and a common question word) bring in."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.services.documents import DocumentService
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
