"""The words the portal shows for the services' codes, and the plain-words help of the
demande form. The services give each record's label; these serve the filters and help."""

from __future__ import annotations

from shared.contracts.vocabulary import PHASE_LABELS, THEME_LABELS, Phase, Theme

REQUEST_STATUSES = {
    "submitted": "Reçue",
    "proposed": "Acteur proposé",
    "in_progress": "Mission en cours",
    "completed": "Mission terminée",
    "unmatched": "Sans acteur disponible",
    "withdrawn": "Retirée",
}

UNMATCHED_REASONS = {
    "aucun_acteur": "Aucun acteur du catalogue ne couvre ce besoin.",
    "territoire": "Aucun acteur n'intervient sur ce territoire.",
    "eligibilite": "La collectivité n'est pas éligible aux acteurs compétents.",
    "adhesion_requise": "Les acteurs compétents sont réservés aux adhérents.",
    "capacite": "Les acteurs compétents n'ont plus de disponibilité.",
    "refus": "Les acteurs proposés ont décliné.",
}

PHASE_HELP = {
    Phase.IDEE: "Vous avez une intention, pas encore de projet défini : on vous aide à la "
    "formuler.",
    Phase.FAISABILITE: "Le projet est défini : on vérifie qu'il est réalisable et on écrit son "
    "programme (besoins, coûts, calendrier).",
    Phase.CONCEPTION: "Le programme est arrêté : études, choix d'un maître d'œuvre, dossier de "
    "consultation.",
    Phase.TRAVAUX: "Le chantier se prépare ou a commencé : suivi, réception des travaux.",
    Phase.EXPLOITATION: "L'équipement fonctionne : entretien, consommations, améliorations.",
}

THEMES = [(t.value, THEME_LABELS[t]) for t in Theme]
PHASES = [(p.value, PHASE_LABELS[p], PHASE_HELP[p]) for p in Phase]
THEME_NAMES = {t.value: THEME_LABELS[t] for t in Theme}
PHASE_NAMES = {p.value: PHASE_LABELS[p] for p in Phase}

ASSIGNMENT_STATUSES = {
    "proposed": "proposée",
    "accepted": "acceptée",
    "declined": "déclinée",
    "expired": "expirée",
    "completed": "terminée",
    "cancelled": "annulée",
}

DOCUMENT_KINDS = {"invoice": "Facture", "credit_note": "Avoir"}

CONVENTION_STATUSES = {
    "brouillon": "en préparation par le département",
    "envoyee": "à signer",
    "signee": "signée",
    "refusee": "refusée",
    "expiree": "expirée",
}
