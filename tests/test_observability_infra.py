"""The Grafana dashboard and the alert rules name only metrics the application exports."""

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import CaptionJobFactory

pytestmark = pytest.mark.django_db
OBSERVABILITY = Path(__file__).resolve().parent.parent / "infra" / "observability"

# PromQL's own words, and the one series Prometheus makes itself.
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "rate", "irate", "increase", "deriv", "delta",
    "histogram_quantile", "clamp_min", "clamp_max", "absent", "time", "topk", "bottomk",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "vector", "scalar", "e", "inf", "nan",
}


def promql_metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)             # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)                     # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)                    # ranges
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # label lists
    names = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr))
    return {n for n in names if n.lower() not in PROMQL_WORDS and not re.fullmatch(r"\d*e\d*", n)}


def alert_expressions() -> list[str]:
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


@pytest.fixture
def exported(admin_client) -> set[str]:
    """Every sample name /metrics can show, read from a scrape of the application."""
    CaptionJobFactory()
    admin_client.get("/healthz")  # one request through the histograms, one 5xx-able status
    text = admin_client.get("/metrics").content.decode()
    names = set()
    for family in text_string_to_metric_families(text):
        kind_suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"],
                         "gauge": [""], "summary": ["_sum", "_count", ""]}
        names.update(family.name + suffix for suffix in kind_suffixes.get(family.type, [""]))
        names.update(sample.name for sample in family.samples)
    return names


def test_every_alert_rule_names_only_exported_metrics(exported):
    named = set().union(*(promql_metric_names(e) for e in alert_expressions()))
    assert named and named - exported == set()


def test_every_dashboard_panel_names_only_exported_metrics(exported):
    named = set().union(*(promql_metric_names(e) for e in dashboard_expressions()))
    assert named and named - exported == set()


def test_the_rules_cover_what_the_issue_asks_for():
    text = " ".join(alert_expressions())
    for metric in ("django_http_requests_latency_seconds_by_view_method_bucket",
                   "django_http_responses_total_by_status_view_method_total",
                   "caption_queue_depth", "caption_worker_ready",
                   "caption_worker_heartbeat_timestamp_seconds",
                   "caption_jobs_finished_total", "caption_cost_usd_total"):
        assert metric in text, metric


def test_the_name_reader_finds_names_and_skips_promql_words():
    assert promql_metric_names(
        'histogram_quantile(0.95, sum by (le, view) (rate(a_bucket{status=~"5.."}[5m])))'
        " / clamp_min(time() - b_seconds, 1e-9)") == {"a_bucket", "b_seconds"}
