from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts.requests import RequestDraft
from shared.http.errors import validation_errors


def errors_of(payload: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        RequestDraft.model_validate(payload)
    return {e.field: e.message for e in validation_errors(caught.value.errors())}


def test_each_field_gets_a_french_message() -> None:
    found = errors_of(
        {
            "requester_code": "1",
            "contact": {"name": "M", "email": "pas-une-adresse"},
            "title": "x" * 300,
            "themes": ["astrologie"],
            "phase": "idee",
            "estimated_budget": "-5",
            "surprise": 1,
        }
    )
    assert found["requester_code"] == "Trop court : au moins 5 caractère(s)."
    assert found["contact.name"] == "Trop court : au moins 2 caractère(s)."
    assert found["contact.email"] == "Adresse électronique invalide."
    assert found["title"] == "Trop long : au plus 200 caractère(s)."
    assert found["description"] == "Ce champ est obligatoire."
    assert found["themes.0"].startswith("Valeur inconnue ; valeurs possibles")
    assert found["estimated_budget"] == "La valeur doit être supérieure ou égale à 0."
    assert found["surprise"] == "Ce champ n'est pas attendu."
