"""``mg-asyncapi write`` rewrites the documents of ``docs/asyncapi/`` from the code;
``mg-asyncapi check`` fails when a checked-in document differs from it.
``infra/asyncapi/validate.sh`` runs the official AsyncAPI parser over them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from shared.asyncapi.document import SERVICES, document
from shared.asyncapi.headers import JSON
from shared.contracts.export import exit_on_problems

DOC_DIR = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"

app = typer.Typer(help="AsyncAPI documents of the services' events.", no_args_is_help=True)


def render(doc: JSON) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def document_path(service: str, directory: Path = DOC_DIR) -> Path:
    return directory / f"{service}.json"


def problems(directory: Path = DOC_DIR) -> list[str]:
    found: list[str] = []
    for service in SERVICES:
        path = document_path(service, directory)
        if not path.exists():
            found.append(f"{path.name}: missing (run `mg-asyncapi write`)")
        elif path.read_text(encoding="utf-8") != render(document(service)):
            found.append(f"{path.name}: stale (run `mg-asyncapi write`)")
    expected = {document_path(s, directory).name for s in SERVICES}
    if directory.is_dir():
        found += [
            f"{path.name}: no such service (delete it)"
            for path in sorted(directory.glob("*.json"))
            if path.name not in expected
        ]
    return found


@app.command()
def write(
    directory: Annotated[Path, typer.Option("--dir", help="Where to write them")] = DOC_DIR,
) -> None:
    """Rewrite the AsyncAPI document of every service from the code."""
    directory.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        path = document_path(service, directory)
        path.write_text(render(document(service)), encoding="utf-8")
        typer.echo(f"wrote {path}")


@app.command()
def check(
    directory: Annotated[Path, typer.Option("--dir", help="Where they are")] = DOC_DIR,
) -> None:
    """Fail when a document is missing or differs from the code."""
    exit_on_problems(problems(directory), f"{len(SERVICES)} AsyncAPI documents up to date")


if __name__ == "__main__":
    app()
