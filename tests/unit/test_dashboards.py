"""The dashboards and alert rules name only metrics that the services expose.

Every PromQL expression of ``infra/grafana/dashboards/*.json`` (panels and template
variables), of ``infra/prometheus/rules/*.yml`` and every input series of the rule
tests is parsed for the series names it uses. Each must be a series of a metric
declared in ``shared/observability/metrics.py``, or of FastStream's Prometheus
middleware as ``shared.messaging.broker`` configures it, or ``up``. Series names are
checked with their exposition suffixes: a counter is ``<name>_total``, a histogram
``<name>_bucket``/``_sum``/``_count``, a gauge its bare name.

It also checks the structure of the dashboards, that they are what
``infra/grafana/generate_dashboards.py`` writes, that every alert has a firing and a
quiet test case, and that docs/metrics.md documents every metric.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

import shared.observability.metrics as product_metrics
from shared.messaging.broker import make_broker
from shared.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = ROOT / "infra" / "grafana" / "dashboards"
GENERATOR = ROOT / "infra" / "grafana" / "generate_dashboards.py"
DATASOURCES = ROOT / "infra" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
RULES_DIR = ROOT / "infra" / "prometheus" / "rules"
RULE_TESTS_DIR = ROOT / "infra" / "prometheus" / "tests"
CATALOGUE = ROOT / "docs" / "metrics.md"
SERVICES = ("requests", "matching", "billing", "notifications", "resources")

DASHBOARD_FILES = sorted(DASHBOARDS_DIR.glob("*.json"))
RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
RULE_TEST_FILES = sorted(RULE_TESTS_DIR.glob("*.test.yml"))

# Series that Prometheus itself writes for every target.
PROMETHEUS_SERIES = frozenset({"up"})

SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}


# ---------------------------------------------------------------- what the services expose


def series_of(family: str, kind: str) -> set[str]:
    return {family + suffix for suffix in SUFFIXES[kind]}


def product_collectors() -> dict[str, MetricWrapperBase]:
    """Family name (as ``describe()`` gives it: counters without ``_total``) -> collector."""
    found: dict[str, MetricWrapperBase] = {}
    for value in vars(product_metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                found[family.name] = value
    return found


def product_series() -> dict[str, str]:
    """Series name -> family, for the metrics of shared/observability/metrics.py."""
    series: dict[str, str] = {}
    for value in vars(product_metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.describe():
                series |= dict.fromkeys(series_of(family.name, family.type), family.name)
    return series


def faststream_series() -> dict[str, str]:
    """Series name -> family, for the middleware that the product's brokers carry."""
    registry = CollectorRegistry()
    make_broker(
        KafkaSettings(security_protocol="PLAINTEXT"),
        client_id="metric-catalogue",
        registry=registry,
    )
    series: dict[str, str] = {}
    for family in registry.collect():
        series |= dict.fromkeys(series_of(family.name, family.type), family.name)
    return series


PRODUCT = product_series()
FASTSTREAM = faststream_series()
KNOWN = PRODUCT.keys() | FASTSTREAM.keys() | PROMETHEUS_SERIES


def undeclared(names: set[str]) -> set[str]:
    return names - KNOWN


# ---------------------------------------------------------------- PromQL series names

STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
GRAFANA_VARIABLES = re.compile(r"\$\{[^}]*\}|\$\w+")
MATCHERS = re.compile(r"\{[^{}]*\}")
RANGES = re.compile(r"\[[^\[\]]*\]")
GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
IDENTIFIER = re.compile(r"(?<![\w.:$])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:])")
KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "atan2",
        "inf",
        "nan",
    }
)


def metric_names(expr: str) -> set[str]:
    """Series names that a PromQL expression selects (functions, keywords, labels left out)."""
    text = STRINGS.sub('""', expr)
    text = GRAFANA_VARIABLES.sub(" ", text)
    text = MATCHERS.sub(" ", text)
    text = RANGES.sub(" ", text)
    text = GROUPING.sub(" ", text)
    names: set[str] = set()
    for match in IDENTIFIER.finditer(text):
        word = match.group(1)
        if word.lower() in KEYWORDS:
            continue
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        names.add(word)
    return names


LABEL_VALUES = re.compile(r"^\s*label_values\((?P<args>.*)\)\s*$", re.DOTALL)
QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.*)\)\s*$", re.DOTALL)


def variable_expr(query: str) -> str:
    """The PromQL inside a Grafana template variable query ("" when there is none)."""
    if m := LABEL_VALUES.match(query):
        args = m.group("args")
        # label_values(label) or label_values(selector, label): the selector only.
        return args.rsplit(",", 1)[0] if "," in args else ""
    if m := QUERY_RESULT.match(query):
        return m.group("expr")
    if query.strip().startswith(("metrics(", "label_names(")):
        return ""
    return query


# ---------------------------------------------------------------- where the expressions are


def load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels", []))


def dashboard_exprs(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and template variable."""
    found: list[tuple[str, str]] = []
    for panel in walk_panels(dashboard["panels"]):
        for t in panel.get("targets", []):
            found.append((f"panel {panel['title']!r} {t.get('refId')}", t["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]
        query = query.get("query", "") if isinstance(query, dict) else query
        found.append((f"variable {variable['name']!r}", variable_expr(query)))
    return found


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
    ]


def rule_tests() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, case) for path in RULE_TEST_FILES for case in load_yaml(path)["tests"]]


def load_generator(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # As when it runs as a script: its folder is on sys.path, for its sibling modules.
    monkeypatch.syspath_prepend(str(GENERATOR.parent))
    spec = importlib.util.spec_from_file_location("mg_generate_dashboards", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- the extractor itself


def test_extractor_finds_series_and_ignores_functions_labels_and_variables() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (service, le) (rate("
        'mg_handler_duration_seconds_bucket{service="matching", instance=~"$instance"}'
        "[$__rate_interval]))) > 1e3"
    )
    assert metric_names(expr) == {"mg_handler_duration_seconds_bucket"}
    assert metric_names(
        "(mg_outbox_backlog > 0 and on (service, instance) mg_outbox_relay_leader == 1)"
        " unless on (service) (sum by (service) (increase(mg_events_published_total[5m])) > 0)"
    ) == {"mg_outbox_backlog", "mg_outbox_relay_leader", "mg_events_published_total"}
    assert metric_names(
        "sum(mg_dead_letters_total unless mg_dead_letters_total offset 5m) by (topic)"
    ) == {"mg_dead_letters_total"}
    assert metric_names('label_replace(up, "svc", "$1", "job", "(.*)")') == {"up"}
    assert metric_names("sum(rate(faststream_received_messages_total[1m])) * 3600") == {
        "faststream_received_messages_total"
    }
    assert variable_expr("label_values(mg_demandes_total, departement)") == "mg_demandes_total"
    assert variable_expr("label_values(departement)") == ""


def test_a_typo_or_a_wrong_suffix_is_caught() -> None:
    typo = 'sum by (status) (rate(mg_demande_total{departement=~"$departement"}[5m]))'
    assert undeclared(metric_names(typo)) == {"mg_demande_total"}
    # The right families, with the suffix of another metric type: all wrong series.
    for wrong in (
        "mg_events_consumed",  # a counter is exposed as _total
        "mg_outbox_backlog_total",  # a gauge has no _total
        "mg_handler_duration_seconds",  # a histogram is _bucket/_sum/_count
        "mg_handler_duration_seconds_total",
        "faststream_received_messages",
    ):
        assert undeclared(metric_names(f"rate({wrong}[5m])")) == {wrong}
    right = "rate(mg_handler_duration_seconds_count[5m]) / rate(mg_events_consumed_total[5m])"
    assert undeclared(metric_names(right)) == set()


def test_the_catalogues_are_read_from_the_code() -> None:
    assert "mg_events_consumed_total" in PRODUCT
    assert "mg_handler_duration_seconds_bucket" in PRODUCT
    assert "mg_outbox_backlog" in PRODUCT
    assert PRODUCT["mg_events_consumed_total"] == "mg_events_consumed"
    assert "faststream_received_messages_total" in FASTSTREAM
    assert "faststream_received_processed_messages_duration_seconds_bucket" in FASTSTREAM
    assert {f for f in FASTSTREAM.values()} >= {
        "faststream_received_messages",
        "faststream_received_processed_messages",
        "faststream_published_messages",
    }


# ---------------------------------------------------------------- dashboards


def test_every_dashboard_is_there() -> None:
    uids = {load_json(p)["uid"] for p in DASHBOARD_FILES}
    assert uids == {
        "mg-pipeline",
        "mg-metier-departements",
        *(f"mg-service-{s}" for s in SERVICES),
    }


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_queries_name_declared_metrics(path: Path) -> None:
    dashboard = load_json(path)
    exprs = dashboard_exprs(dashboard)
    assert exprs, f"{path.name}: no query"
    wrong = {where: sorted(undeclared(metric_names(expr))) for where, expr in exprs if expr.strip()}
    assert {where: names for where, names in wrong.items() if names} == {}
    panel_exprs = [expr for where, expr in exprs if where.startswith("panel")]
    assert all(metric_names(expr) for expr in panel_exprs), "a panel query selects no series"


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_structure(path: Path) -> None:
    dashboard = load_json(path)
    datasource_uid = load_yaml(DATASOURCES)["datasources"][0]["uid"]
    assert path.name == f"{dashboard['uid']}.json"
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["title"] and "matiere-grise" in dashboard["tags"]
    panels = list(walk_panels(dashboard["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24 and pos["h"] > 0, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == datasource_uid, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for t in panel["targets"]:
            assert t["datasource"]["uid"] == datasource_uid
            assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]
    # Panels do not overlap.
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        pos = panel["gridPos"]
        area = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & area, f"{panel['title']} overlaps another panel"
        cells |= area
    # Every variable that a query uses is defined.
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    for _, expr in dashboard_exprs(dashboard):
        used = set(re.findall(r"\$(\w+)", expr)) - {"__rate_interval", "__range", "__interval"}
        assert used <= defined, f"undefined variables {used - defined} in {expr}"


def test_business_dashboard_filters_by_departement() -> None:
    dashboard = load_json(DASHBOARDS_DIR / "mg-metier-departements.json")
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["departement"]["multi"] and variables["departement"]["includeAll"]
    collectors = product_collectors()
    with_departement = {
        series
        for series, family in PRODUCT.items()
        if "departement" in collectors[family]._labelnames
    }
    for where, expr in dashboard_exprs(dashboard):
        if where.startswith("panel") and metric_names(expr) & with_departement:
            assert 'departement=~"$departement"' in expr, f"{where} ignores the filter"
    used = {name for _, expr in dashboard_exprs(dashboard) for name in metric_names(expr)}
    families = {PRODUCT[name] for name in used if name in PRODUCT}
    assert families >= {
        "mg_demandes",
        "mg_matching_outcomes",
        "mg_matching_latency_seconds",
        "mg_invoiced_euros",
        "mg_invoices",
        "mg_notifications",
    }


def test_dashboards_are_what_the_generator_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = load_generator(monkeypatch)
    wanted = {name: generator.render(model) for name, model in generator.dashboards().items()}
    assert sorted(wanted) == [p.name for p in DASHBOARD_FILES]
    stale = [p.name for p in DASHBOARD_FILES if p.read_text(encoding="utf-8") != wanted[p.name]]
    assert not stale, (
        f"{stale} differ from infra/grafana/generate_dashboards.py: edit the script and run it"
    )


# ---------------------------------------------------------------- alert rules


def test_rules_name_declared_metrics() -> None:
    rules = alert_rules()
    assert rules
    wrong = {r["alert"]: sorted(undeclared(metric_names(r["expr"]))) for r in rules}
    assert {alert: names for alert, names in wrong.items() if names} == {}
    assert all(metric_names(r["expr"]) for r in rules)


def test_rule_tests_feed_declared_series() -> None:
    names = {
        series["series"].split("{", 1)[0].strip()
        for _, case in rule_tests()
        for series in case.get("input_series", [])
    }
    assert names
    assert undeclared(names) == set()


def test_alerts_are_documented_and_classified() -> None:
    for rule in alert_rules():
        assert rule["alert"].startswith("MG"), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        annotations = rule["annotations"]
        assert annotations.get("summary", "").strip(), rule["alert"]
        assert annotations.get("description", "").strip(), rule["alert"]


def test_every_alert_has_a_firing_and_a_quiet_test_case() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for _, case in rule_tests():
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = {r["alert"] for r in alert_rules()}
    assert alerts - firing == set(), "alerts without a firing test case"
    assert alerts - quiet == set(), "alerts without a not-firing test case"
    assert (firing | quiet) - alerts == set(), "tests of alerts that do not exist"


# ---------------------------------------------------------------- the catalogue


def test_the_catalogue_documents_every_metric() -> None:
    text = CATALOGUE.read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_:][a-z0-9_:]*)`", text))
    # Counters by their exposed name (`_total`), the others by their family name.
    exposed = {
        series if series.endswith("_total") else family
        for series, family in (PRODUCT | FASTSTREAM).items()
        if not series.endswith("_created")
    }
    assert "mg_events_consumed_total" in exposed and "mg_outbox_backlog" in exposed
    assert exposed - documented == set()
