"""Benchmark of Factur-X documents against plain HTML rendering, in the same run.

    .venv/bin/python -m tests.perf.bench_facturx [--count 60]

Over the demo départements' sample invoices (tests/support/facturx_samples.py: cotisations
to a commune and an EPCI, a mission with references, a credit note, a 20 % VAT invoice),
one process, one core: the plain HTML document the service serves today
(``documents.render_html``), the CII XML (business terms + lxml + factur-x's XSD check),
the whole Factur-X PDF (WeasyPrint PDF/A-3b + embedding + XMP), and the CEN's Schematron
on each XML (compiled once; needs ``../shared/validators`` or ``MG_VALIDATORS_DIR``).
Prints a Markdown table and the load average, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from services.billing.adapters.facturx_pdf import facturx_pdf
from services.billing.adapters.facturx_xml import cii_xml
from services.billing.domain.documents import render_html
from tests.support.facturx_samples import Case, cases
from tests.support.validators import schematron


def _rate(label: str, items: list[Case], work: Callable[[Case], object]) -> tuple[str, float]:
    started = time.perf_counter()
    for item in items:
        work(item)
    elapsed = time.perf_counter() - started
    return label, len(items) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=60)
    count = parser.parse_args().count
    samples = [c for d in ("49", "24", "78") for c in cases(d)]
    items = [samples[i % len(samples)] for i in range(count)]
    facturx_pdf(*_args(items[0]))  # warm-up: fonts, Pango, stylesheets
    rows = [
        _rate("HTML document (today)", items, lambda c: render_html(c.invoice)),
        _rate("CII XML + XSD check", items, lambda c: cii_xml(*_args(c))),
        _rate("Factur-X PDF (render + embed + XMP)", items, lambda c: facturx_pdf(*_args(c))),
    ]
    with schematron() as en16931:
        xmls = {id(c): cii_xml(*_args(c)) for c in samples}
        rows.append(_rate("EN 16931 Schematron", items, lambda c: en16931.fatal(xmls[id(c)])))
    print(f"{count} documents each, load average {os.getloadavg()[0]:.1f}")
    print("| step | documents/s |\n| --- | ---: |")
    for label, rate in rows:
        print(f"| {label} | {rate:,.1f} |")


def _args(case: Case) -> tuple[object, ...]:
    return (case.invoice, case.seller, case.buyer, case.references)


if __name__ == "__main__":
    main()
