"""The JSON result files of the benchmarks and drills (what ran, where, and on what), and
their progress log."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any


def header(module: str, args: argparse.Namespace, load_before: tuple[float, ...]) -> dict[str, Any]:
    """When, the command that reproduces the run, and how busy the (shared) machine was."""
    return {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": f"python -m {module} "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "note": "shared machine: other work ran at the same time",
        },
    }


def write(path: Path, document: dict[str, Any], *, indent: int = 2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(document, indent=indent, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)
