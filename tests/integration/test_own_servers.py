"""The failure drills' own servers leave nothing behind: a state folder whose driver died
before its cleanup is stopped and deleted by the next drill, a live driver's is kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil

from stack.harness.servers import OWNER_FILE, sweep_orphans


def owner_of(pid: int) -> dict[str, object]:
    process = psutil.Process(pid)
    return {
        "pid": pid,
        "created": process.create_time(),
        "env": {"PG_PORT": "1", "KAFKA_PORT": "2"},
    }


def test_orphans_are_swept_and_live_drills_kept(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / "orphan"
    live = tmp_path / "live"
    for home, owner in (
        (orphan, owner_of(os.getpid()) | {"pid": dead.pid}),
        (live, owner_of(os.getpid())),
    ):
        (home / "kafka").mkdir(parents=True)
        (home / "postgres").mkdir()
        (home / OWNER_FILE).write_text(json.dumps(owner))

    swept = sweep_orphans(tmp_path)

    assert swept == ["orphan"]
    assert not orphan.exists()
    assert live.exists()
