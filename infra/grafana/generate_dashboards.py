"""Writes the Grafana dashboards of Matière Grise to ``infra/grafana/dashboards/``.

    .venv/bin/python infra/grafana/generate_dashboards.py          # (re)write the JSON files
    .venv/bin/python infra/grafana/generate_dashboards.py --check  # exit 1 if they are stale

The JSON files are what Grafana loads (``provisioning/dashboards/dashboards.yml``);
this script and the modules beside it are their source: ``panels.py`` (queries, panels,
variables), ``dashboard_model.py`` (rows laid out on the grid), ``pipeline_dashboard.py``,
``service_dashboards.py`` and ``business_dashboard.py`` (the dashboards). Change them,
run this script, commit both. ``tests/unit/test_dashboards.py`` fails when the files
differ from what the script writes, and when a query names a metric that the services
do not declare (docs/metrics.md).

Conventions of the queries: ``job`` is the service (one scrape job per service); the
product's own series also carry ``service``; FastStream's carry ``app_name`` (the
instance id) and ``handler`` (the topic) or ``destination``. The outbox gauges are
read from the instance that leads the relay, the others keep stale values.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from business_dashboard import business
from panels import Json
from pipeline_dashboard import pipeline
from service_dashboards import SERVICES, service_dashboard

OUT_DIR = Path(__file__).resolve().parent / "dashboards"


def dashboards() -> dict[str, Json]:
    """File name -> Grafana JSON model, for every dashboard."""
    all_ = [pipeline(), *(service_dashboard(s) for s in SERVICES), business()]
    return {f"{d.uid}.json": d.model() for d in all_}


def render(model: Json) -> str:
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args()
    wanted = {name: render(model) for name, model in dashboards().items()}
    present = {p.name for p in OUT_DIR.glob("*.json")}
    stale = sorted(
        name
        for name, text in wanted.items()
        if not (OUT_DIR / name).exists() or (OUT_DIR / name).read_text(encoding="utf-8") != text
    )
    extra = sorted(present - wanted.keys())
    if args.check:
        if stale or extra:
            print(f"stale: {stale}, not generated: {extra}", file=sys.stderr)
            print("run: .venv/bin/python infra/grafana/generate_dashboards.py", file=sys.stderr)
            return 1
        return 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in extra:
        (OUT_DIR / name).unlink()
    for name, text in wanted.items():
        (OUT_DIR / name).write_text(text, encoding="utf-8")
    print(f"{len(wanted)} dashboards written to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
