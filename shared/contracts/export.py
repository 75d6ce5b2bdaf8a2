"""Generates the JSON Schema of every event into ``shared/contracts/schemas/``.

``mg-contracts write`` rewrites the files; ``mg-contracts check`` fails when the
checked-in schemas differ from the code or when the code breaks a checked-in
schema (see :mod:`shared.contracts.compatibility`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from shared.contracts.base import EventPayload
from shared.contracts.compatibility import breaking_changes
from shared.contracts.registry import EVENT_MODELS

SCHEMA_DIR = Path(__file__).parent / "schemas"

app = typer.Typer(help="JSON Schemas of the event contracts.", no_args_is_help=True)


def schema_of(model: type[EventPayload]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="serialization")
    schema["$id"] = f"urn:matiere-grise:event:{model.event_type}"
    schema["x-ce-type"] = model.event_type
    schema["x-topic"] = model.topic
    schema["x-producer"] = model.producer
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def schema_path(event_type: str) -> Path:
    return SCHEMA_DIR / f"{event_type}.json"


def problems() -> list[str]:
    found: list[str] = []
    for model in EVENT_MODELS:
        path = schema_path(model.event_type)
        current = schema_of(model)
        if not path.exists():
            found.append(f"{model.event_type}: no checked-in schema (run `mg-contracts write`)")
            continue
        checked_in = json.loads(path.read_text(encoding="utf-8"))
        found += [f"{model.event_type}: {p}" for p in breaking_changes(checked_in, current)]
        if render(checked_in) != render(current):
            found.append(
                f"{model.event_type}: checked-in schema is stale (run `mg-contracts write`)"
            )
    return found


@app.command()
def write() -> None:
    """Rewrite every schema file from the code."""
    SCHEMA_DIR.mkdir(exist_ok=True)
    for model in EVENT_MODELS:
        schema_path(model.event_type).write_text(render(schema_of(model)), encoding="utf-8")
        typer.echo(f"wrote {schema_path(model.event_type).name}")


@app.command()
def check() -> None:
    """Fail when a schema is missing, stale or broken by the code."""
    exit_on_problems(problems(), f"{len(EVENT_MODELS)} event schemas up to date and compatible")


def exit_on_problems(found: list[str], all_good: str) -> None:
    """The end of a ``check`` command: each problem on stderr and exit 1, else ``all_good``."""
    for problem in found:
        typer.echo(problem, err=True)
    if found:
        raise typer.Exit(1)
    typer.echo(all_good)


if __name__ == "__main__":
    app()
