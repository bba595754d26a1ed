"""The store's metrics at scrape time, and the Grafana dashboard's queries:
every metric an expression names is one the matcher's /metrics exposes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from reclaim.matcher.app import create_app
from reclaim.matcher.config import MatcherConfig
from reclaim.matcher.service import MatcherService
from tests.conftest import live_server, random_pdq
from tests.matcher.conftest import pdq_item, submit
from tests.matcher.desk.seeding import add_match, add_request

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "reclaim-matcher.json"
#: PromQL's own words in the dashboard's expressions (not metric names).
PROMQL = {
    "sum",
    "max",
    "min",
    "avg",
    "by",
    "without",
    "rate",
    "increase",
    "histogram_quantile",
    "time",
}


def active_service(
    person: httpx.Client,
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
) -> MatcherService:
    """A matcher that synced, matched, decided and raised a spike alert."""
    listed = random_pdq(np.random.default_rng(71))
    submit(person, pdq_item(listed))
    base = make_config()
    config = MatcherConfig.from_mapping(
        {
            "source": {"url": base.source.url, "api_key": base.source.api_key},
            "store": {"url": base.store_url},
            "alerts": [{"name": "burst", "min_matches": 2, "factor": 2}],
        }
    )
    service = make_service(config)
    service.sync_once()
    with live_server(create_app(service)) as url:
        for _ in range(3):  # through the API, so match latency is observed
            reply = httpx.post(
                f"{url}/v1/match",
                json={"hashes": [{"type": "pdq", "value": listed}]},
                timeout=30,
            )
            assert reply.status_code == 200, reply.text
    first = min(item.id for item in service.queue.list(state="pending"))
    service.decide(first, "blocked", reviewer="ana")
    assert [f.rule.name for f in service.check_alerts()] == ["burst"]
    service.deliver()  # feedback to the registry; counts the outbox
    return service


def exposed(
    service: MatcherService,
) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """The samples the matcher's GET /metrics serves, by name and labels."""
    with live_server(create_app(service)) as url:
        text = httpx.get(f"{url}/metrics", timeout=30).text
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = (
                sample.value
            )
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads (labels, ranges, strings removed)."""
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}", "", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    bare = re.sub(r"\b(by|without)\s*\([^)]*\)", "", bare)
    names = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare))
    return names - PROMQL


def test_every_dashboard_query_reads_exposed_metrics(
    person: httpx.Client,
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
) -> None:
    service = active_service(person, make_config, make_service)
    samples = exposed(service)
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 39
    variables = dashboard["templating"]["list"]
    assert [(v["name"], v["type"], v["query"]) for v in variables] == [
        ("datasource", "datasource", "prometheus")
    ]
    exprs = []
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        exprs += [target["expr"] for target in panel["targets"]]
    assert len(exprs) >= 12
    named: set[str] = set()
    for expr in exprs:
        names = metric_names(expr)
        assert names, expr
        named |= names
        missing = names - set(samples)
        assert not missing, f"{expr}: {missing} not exposed by /metrics"
    for wanted in (
        "reclaim_matcher_source_matches_total",
        "reclaim_matcher_program_matches_total",
        "reclaim_matcher_list_size",
        "reclaim_matcher_source_last_successful_sync_timestamp_seconds",
        "reclaim_matcher_outbox_pending",
        "reclaim_matcher_review_oldest_pending_age_seconds",
        "reclaim_matcher_removal_requests_overdue",
        "reclaim_matcher_spike_alerts_total",
        "reclaim_matcher_match_seconds_bucket",
        "reclaim_matcher_decision_seconds_bucket",
    ):
        assert wanted in named, wanted
    assert any(
        "histogram_quantile(0.95" in e and "reclaim_matcher_match_seconds_bucket" in e
        for e in exprs
    )
    # The helper checks itself: a name that is not exposed is caught.
    assert metric_names('rate(reclaim_matcher_nope_total{a="b"}[5m])') == {
        "reclaim_matcher_nope_total"
    }


def test_store_metrics_are_read_when_scraped(
    person: httpx.Client,
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
) -> None:
    service = active_service(person, make_config, make_service)
    engine = service.engine
    now = datetime.now(UTC)
    add_match(engine, created=now - timedelta(hours=5), program="minor")
    add_request(engine, "RR-LATELATELA", received=now - timedelta(hours=50))
    add_request(engine, "RR-VALIDVALID", received=now, state="valid")
    add_request(
        engine, "RR-DONEDONEDO", received=now - timedelta(hours=60), state="removed"
    )
    samples = exposed(service)

    def one(name: str, **labels: str) -> float:
        return samples[name][tuple(sorted(labels.items()))]

    # The oldest pending match is the one added 5 hours ago.
    oldest = one("reclaim_matcher_review_oldest_pending_age_seconds")
    assert 5 * 3600 - 5 < oldest < 5 * 3600 + 60
    assert one("reclaim_matcher_review_pending", program="minor") == 1
    assert one("reclaim_matcher_review_pending", program="adult") == 2
    assert one("reclaim_matcher_removal_requests_open", state="received") == 1
    assert one("reclaim_matcher_removal_requests_open", state="valid") == 1
    assert one("reclaim_matcher_removal_requests_overdue") == 1
    assert one("reclaim_matcher_decision_seconds_count", decision="blocked") == 1
    assert one("reclaim_matcher_spike_alerts_total", rule="burst") == 1
    assert (
        one("reclaim_matcher_program_matches_total", program="adult", state="pending")
        == 3
    )


def test_decision_time_says_it_counts_a_redecided_match_twice(
    make_config: Callable[..., MatcherConfig],
    make_service: Callable[..., MatcherService],
) -> None:
    """Decisions are observed as they are made: a desk decision undone and
    made again is observed twice, and the help text and docs say so."""
    service = make_service(make_config(desk={"undo_seconds": 60}))
    match = add_match(service.engine, created=datetime.now(UTC) - timedelta(minutes=5))
    service.decide_on_desk([match], "blocked", account="ana")
    service.undo(match, account="ana", lead=False)
    service.decide_on_desk([match], "not_blocked", account="ana")
    text = service.metrics.render().decode()
    counts = {
        sample.labels["decision"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "reclaim_matcher_decision_seconds"
        for sample in family.samples
        if sample.name.endswith("_count")
    }
    assert counts == {"blocked": 1.0, "not_blocked": 1.0}
    (help_line,) = [
        line
        for line in text.splitlines()
        if line.startswith("# HELP reclaim_matcher_decision_seconds ")
    ]
    assert "undone" in help_line and "each time" in help_line
    docs = (Path(__file__).parents[2] / "docs" / "desk.md").read_text()
    (row,) = [r for r in docs.splitlines() if "`reclaim_matcher_decision_seconds" in r]
    assert "undone" in row
