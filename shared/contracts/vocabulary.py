"""The closed vocabularies that events carry: themes, phases, kinds of requester.

Their values are part of the public contract: add values, never rename or remove one.
"""

from __future__ import annotations

import re
from enum import StrEnum

# Every département code: 01…95 (no 20), 2A, 2B, 971…976.
DEPARTEMENT_CODE = re.compile(r"0[1-9]|1[0-9]|2[1-9]|[3-8][0-9]|9[0-5]|2A|2B|97[1-6]")


class Theme(StrEnum):
    URBANISME = "urbanisme"
    EAU_ASSAINISSEMENT = "eau_assainissement"
    VOIRIE_RESEAUX = "voirie_reseaux"
    BATIMENTS_PUBLICS = "batiments_publics"
    ENERGIE = "energie"
    ENVIRONNEMENT_BIODIVERSITE = "environnement_biodiversite"
    ARCHITECTURE_PAYSAGE = "architecture_paysage"
    ECONOMIE_COMMERCE = "economie_commerce"
    MOBILITE = "mobilite"
    HABITAT = "habitat"
    JURIDIQUE_MARCHES_PUBLICS = "juridique_marches_publics"
    FINANCES_LOCALES = "finances_locales"
    NUMERIQUE = "numerique"
    FORMATION_ELUS = "formation_elus"


THEME_LABELS: dict[Theme, str] = {
    Theme.URBANISME: "Urbanisme (PLU/PLUi, permis)",
    Theme.EAU_ASSAINISSEMENT: "Eau et assainissement",
    Theme.VOIRIE_RESEAUX: "Voirie et réseaux",
    Theme.BATIMENTS_PUBLICS: "Bâtiments publics",
    Theme.ENERGIE: "Énergie",
    Theme.ENVIRONNEMENT_BIODIVERSITE: "Environnement et biodiversité",
    Theme.ARCHITECTURE_PAYSAGE: "Architecture et paysage",
    Theme.ECONOMIE_COMMERCE: "Économie et commerce",
    Theme.MOBILITE: "Mobilité",
    Theme.HABITAT: "Habitat",
    Theme.JURIDIQUE_MARCHES_PUBLICS: "Juridique et marchés publics",
    Theme.FINANCES_LOCALES: "Finances locales",
    Theme.NUMERIQUE: "Numérique",
    Theme.FORMATION_ELUS: "Formation des élus",
}


class Phase(StrEnum):
    """Phases of a project, in the order a project goes through them."""

    IDEE = "idee"
    FAISABILITE = "faisabilite"
    CONCEPTION = "conception"
    TRAVAUX = "travaux"
    EXPLOITATION = "exploitation"


PHASE_LABELS: dict[Phase, str] = {
    Phase.IDEE: "Idée",
    Phase.FAISABILITE: "Faisabilité / programmation",
    Phase.CONCEPTION: "Études / conception",
    Phase.TRAVAUX: "Travaux / réalisation",
    Phase.EXPLOITATION: "Exploitation",
}


class RequesterKind(StrEnum):
    COMMUNE = "commune"
    EPCI = "epci"
