"""deploy/grafana/ragline.json charts only metrics that ragline exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ragline.telemetry import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "ragline.json"
SCRAPE_TIME = {"ragline_runs_in_state", "ragline_ingest_jobs_in_state", "ragline_model_slots",
               "ragline_active_runs"}  # added by web/observability.py when /metrics is read


def test_dashboard_charts_exported_families_through_the_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert any(v["type"] == "datasource" and v["query"] == "prometheus"
               for v in dashboard["templating"]["list"])
    exported = {f.name for f in metrics.REGISTRY.collect()} | SCRAPE_TIME
    charts = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(charts) >= 20
    for panel in charts:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            for name in re.findall(r"ragline_\w+", target["expr"]):
                family = re.sub(r"_(bucket|total|count|sum)$", "", name)
                assert family in exported, (panel["title"], name)
