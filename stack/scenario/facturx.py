"""The demo's buyer accounts and Factur-X files (ADRs 0016–0017): the collectivités that
sign a convention give the SIRET of their invoicing establishment, which becomes their
buyer account; the summary counts the accounts and fetches, over the API, the CII XML of
every invoice addressed to a collectivité that has one."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from rich.console import Console

from shared.settings import AuthSettings
from stack.scenario.api import all_pages, team_headers


def stand_in_siret(code: str) -> str:
    """A SIRET with valid keys for the demo's collectivité ``code`` (the reference data has
    no establishment numbers): an EPCI's SIREN, or ``21`` + a commune's INSEE code, then
    ``0001`` and the key."""
    # Corsica's communes (2A…, 2B…) count as 20….
    digits = code if len(code) == 9 else _keyed(f"21{code.replace('A', '0').replace('B', '0')}0")
    return _keyed(f"{digits}0001")


def _keyed(digits: str) -> str:
    def luhn(value: str) -> int:
        doubled = (int(c) * (2 if i % 2 else 1) for i, c in enumerate(reversed(value)))
        return sum(d - 9 if d > 9 else d for d in doubled) % 10

    return next(digits + d for d in "0123456789" if luhn(digits + d) == 0)


async def facturx_report(billing_url: str, departements: Sequence[str], console: Console) -> None:
    async with httpx.AsyncClient(base_url=billing_url, timeout=60) as billing:
        console.print(await facturx_line(billing, departements))


async def facturx_line(billing: httpx.AsyncClient, departements: Sequence[str]) -> str:
    """The summary's line of the buyer accounts and Factur-X files, from the API."""
    auth = AuthSettings()
    accounts = files = without = refused = 0
    for dep in departements:
        headers = team_headers(auth, dep)
        known = {
            a["collectivite_code"]
            for a in await all_pages(billing, f"/v1/buyers?departement={dep}", headers)
        }
        accounts += len(known)
        for invoice in await all_pages(billing, f"/v1/invoices?departement={dep}", headers):
            if invoice["collectivite_code"] not in known:
                without += 1
                continue
            xml = await billing.get(f"/v1/invoices/{invoice['id']}/facturx.xml", headers=headers)
            if xml.status_code == 200:
                files += 1
            else:
                refused += 1
    return (
        f"Comptes acheteurs (Chorus Pro) : {accounts} ; Factur-X (XML EN 16931) : {files} "
        f"fichiers{f', {refused} refusés' if refused else ''} ; {without} factures à des "
        "collectivités sans compte acheteur"
    )
