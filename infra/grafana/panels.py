"""The building blocks of the dashboards: PromQL targets, panels, template variables."""

from __future__ import annotations

from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "mg-prometheus"}
# API traffic only: scrapes of the /metrics mount are counted under route="unmatched".
API_ROUTES = 'route!~"unmatched|/metrics.*|/health/.*"'
RATE = "$__rate_interval"

Json = dict[str, Any]


def target(expr: str, legend: str = "", *, ref: str = "A", instant: bool = False) -> Json:
    t: Json = {
        "datasource": DATASOURCE,
        "refId": ref,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
    }
    return t


def targets(*pairs: tuple[str, str], instant: bool = False) -> list[Json]:
    return [
        target(expr, legend, ref=chr(ord("A") + i), instant=instant)
        for i, (expr, legend) in enumerate(pairs)
    ]


# Stat and bar gauge panels show the last value of each series.
LAST_VALUE: Json = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def thresholds(*steps: tuple[float | None, str]) -> Json:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def panel(
    kind: str,
    title: str,
    description: str,
    queries: list[Json],
    defaults: Json,
    options: Json,
    size: tuple[int, int],
) -> Json:
    """A panel of any kind; ``_size`` (width, height) is for ``Dashboard`` to lay it out."""
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": queries,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "_size": size,
    }


def timeseries(
    title: str,
    description: str,
    queries: list[Json],
    *,
    unit: str = "short",
    width: int = 12,
    height: int = 8,
    bars: bool = False,
    stack: bool = False,
    limits: Json | None = None,
) -> Json:
    custom: Json = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1,
        "fillOpacity": 60 if bars else 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "axisSoftMin": 0,
    }
    defaults: Json = {"unit": unit, "custom": custom, "min": 0}
    if limits is not None:
        defaults["thresholds"] = limits
        custom["thresholdsStyle"] = {"mode": "line"}
    legend: Json = {
        "showLegend": True,
        "displayMode": "table",
        "placement": "bottom",
        "calcs": ["mean", "max", "lastNotNull"],
    }
    options: Json = {"legend": legend, "tooltip": {"mode": "multi", "sort": "desc"}}
    return panel("timeseries", title, description, queries, defaults, options, (width, height))


def stat(
    title: str,
    description: str,
    queries: list[Json],
    *,
    unit: str = "short",
    width: int = 6,
    height: int = 5,
    limits: Json | None = None,
    mappings: list[Json] | None = None,
) -> Json:
    defaults: Json = {
        "unit": unit,
        "thresholds": limits or thresholds((None, "green")),
        "mappings": mappings or [],
    }
    options: Json = {
        "reduceOptions": LAST_VALUE,
        "colorMode": "background" if limits else "value",
        "graphMode": "none",
        "textMode": "value_and_name",
        "justifyMode": "auto",
        "orientation": "auto",
    }
    return panel("stat", title, description, queries, defaults, options, (width, height))


def bargauge(
    title: str, description: str, queries: list[Json], *, unit: str = "short", width: int = 8
) -> Json:
    defaults: Json = {"unit": unit, "min": 0, "thresholds": thresholds((None, "blue"))}
    options: Json = {
        "reduceOptions": LAST_VALUE,
        "orientation": "horizontal",
        "displayMode": "gradient",
        "showUnfilled": True,
    }
    return panel("bargauge", title, description, queries, defaults, options, (width, 8))


UP_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "injoignable", "color": "red", "index": 0},
            "1": {"text": "joignable", "color": "green", "index": 1},
        },
    }
]
LEADER_LIMITS = thresholds((None, "red"), (1, "green"), (2, "orange"))
AGE_LIMITS = thresholds((None, "green"), (30, "orange"), (60, "red"))


def query_variable(name: str, label: str, query: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "sort": 3,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
        "skipUrlSync": False,
    }


def quantiles(
    metric: str, by: str, selector: str, legend: str, qs: tuple[float, ...]
) -> list[Json]:
    group = f"{by}, le" if by else "le"
    return targets(
        *(
            (
                f"histogram_quantile({q}, sum by ({group}) "
                f"(rate({metric}_bucket{{{selector}}}[{RATE}])))",
                f"p{round(q * 100)} {legend}".strip(),
            )
            for q in qs
        )
    )
