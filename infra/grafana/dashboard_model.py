"""A dashboard as rows of panels, laid out on Grafana's 24-column grid."""

from __future__ import annotations

from dataclasses import dataclass, field

from panels import Json

SCHEMA_VERSION = 39
TAG = "matiere-grise"


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    tags: tuple[str, ...] = ()
    variables: list[Json] = field(default_factory=list)
    rows: list[tuple[str, list[Json]]] = field(default_factory=list)

    def row(self, title: str, *panels: Json) -> None:
        self.rows.append((title, list(panels)))

    def model(self) -> Json:
        panels: list[Json] = []
        next_id = 1
        y = 0
        for title, row_panels in self.rows:
            panels.append(
                {
                    "type": "row",
                    "title": title,
                    "id": next_id,
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                    "panels": [],
                }
            )
            next_id += 1
            y += 1
            x = 0
            line_height = 0
            for panel in row_panels:
                width, height = panel["_size"]
                if x + width > 24:
                    x, y, line_height = 0, y + line_height, 0
                placed = {k: v for k, v in panel.items() if k != "_size"}
                placed["id"] = next_id
                placed["gridPos"] = {"h": height, "w": width, "x": x, "y": y}
                panels.append(placed)
                next_id += 1
                x += width
                line_height = max(line_height, height)
            y += line_height
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": [TAG, *self.tags],
            "editable": False,
            "graphTooltip": 1,
            "timezone": "browser",
            "refresh": "10s",
            "time": {"from": "now-1h", "to": "now"},
            "timepicker": {},
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "monday",
            "annotations": {
                "list": [
                    {
                        "builtIn": 1,
                        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                        "enable": True,
                        "hide": True,
                        "iconColor": "rgba(0, 211, 255, 1)",
                        "name": "Annotations & Alerts",
                        "type": "dashboard",
                    }
                ]
            },
            "links": [
                {
                    "title": "Matière Grise",
                    "type": "dashboards",
                    "tags": [TAG],
                    "asDropdown": True,
                    "includeVars": False,
                    "keepTime": True,
                    "targetBlank": False,
                    "icon": "external link",
                    "tooltip": "",
                    "url": "",
                }
            ],
            "templating": {"list": self.variables},
            "panels": panels,
        }
