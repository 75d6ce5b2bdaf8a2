"""The independent validators laid beside the repository (``../shared/validators``, as
CI lays them): the CEN's EN 16931 Schematron on Saxon-HE, compiled once, and Mustang's
Factur-X validator, several files at a time."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from saxonche import PySaxonProcessor

REPO = Path(__file__).resolve().parents[2]
# MG_VALIDATORS_DIR: for a worktree that does not sit beside shared/ (CI's clone does).
VALIDATORS = Path(os.environ.get("MG_VALIDATORS_DIR", REPO.parent / "shared" / "validators"))
_ASSERT = re.compile(
    r"<svrl:failed-assert\b(?P<attrs>[^>]*)>(?P<body>.*?)</svrl:failed-assert>", re.S
)


@dataclass(frozen=True)
class Failed:
    rule: str
    flag: str
    text: str


class Schematron:
    """The CII stylesheet of the EN 16931 validation artefacts, compiled once."""

    def __init__(self, processor: PySaxonProcessor) -> None:
        self._processor = processor
        xslt = VALIDATORS / "en16931" / "EN16931-CII-validation.xslt"
        self._executable = processor.new_xslt30_processor().compile_stylesheet(
            stylesheet_file=str(xslt)
        )

    def failed(self, xml: bytes) -> list[Failed]:
        node = self._processor.parse_xml(xml_text=xml.decode())
        report = self._executable.transform_to_string(xdm_node=node) or ""
        found = []
        for match in _ASSERT.finditer(report):
            attrs = dict(re.findall(r'(\w+)="([^"]*)"', match["attrs"]))
            text = " ".join(re.sub(r"<[^>]+>", "", match["body"]).split())
            found.append(Failed(attrs.get("id", "?"), attrs.get("flag", "?"), text))
        return found

    def fatal(self, xml: bytes) -> list[Failed]:
        return [f for f in self.failed(xml) if f.flag == "fatal"]


@contextmanager
def schematron() -> Iterator[Schematron]:
    with PySaxonProcessor(license=False) as processor:
        yield Schematron(processor)


@dataclass(frozen=True)
class MustangReport:
    path: Path
    returncode: int
    report: str

    @property
    def valid(self) -> bool:
        return self.returncode == 0 and '<summary status="valid"/>' in self.report


def _jar(script: Path) -> Path:
    """The jar ``validate.sh`` fetched (it runs first, so it is there)."""
    match = re.search(r"^ver=(\S+)$", script.read_text(), re.M)
    assert match, script
    version = match[1]
    repo = Path(os.environ.get("MAVEN_REPO", Path.home() / ".m2" / "repository"))
    return repo / "org/mustangproject/validator" / version / f"validator-{version}-shaded.jar"


def mustang(paths: Sequence[Path], work: Path) -> list[MustangReport]:
    """Mustang's verdict on each file: the first through ``validate.sh`` itself (which
    fetches the jar), the others in one JVM with the same call (``MustangBatch.java``)."""
    script = VALIDATORS / "facturx" / "validate.sh"
    # bash, not the script itself: CI's copy of shared/ has no execute bits.
    first = subprocess.run(
        ["bash", str(script), str(paths[0])],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    reports = [MustangReport(paths[0], first.returncode, first.stdout)]
    if len(paths) == 1:
        return reports
    jar = _jar(script)
    source = Path(__file__).with_name("MustangBatch.java")
    subprocess.run(
        ["javac", "-d", str(work), "-cp", str(jar), str(source)], check=True, timeout=120
    )
    batch = subprocess.run(
        ["java", "-Xmx1g", "-cp", f"{jar}{os.pathsep}{work}", "MustangBatch", *map(str, paths[1:])],
        capture_output=True,
        text=True,
        timeout=280,
        check=True,
    )
    framed = re.findall(r"=== begin (.+?)\n(.*?)\n=== end (valid|invalid)", batch.stdout, re.S)
    assert [Path(p) for p, _, _ in framed] == list(paths[1:]), batch.stdout[-2000:]
    reports += [MustangReport(Path(p), 0 if v == "valid" else 1, r) for p, r, v in framed]
    return reports
