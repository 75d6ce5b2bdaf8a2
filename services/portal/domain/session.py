"""Who is signed in to the portal: the services' token and what the portal shows of it."""

from __future__ import annotations

from dataclasses import dataclass

ROLE_LABELS = {
    "collectivite": "Collectivité (commune ou EPCI)",
    "actor": "Acteur de l'ingénierie",
    "departement": "Agent du département",
}


@dataclass(frozen=True, slots=True)
class Session:
    role: str
    departement: str
    # The collectivité's INSEE code / SIREN, or the actor's id; None for a département agent.
    scope: str | None
    name: str
    # The bearer token the portal sends to the services on this person's behalf.
    token: str
    # The anti-forgery token every form of this session carries.
    csrf: str

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def as_json(self) -> dict[str, str | None]:
        return {
            "role": self.role,
            "departement": self.departement,
            "scope": self.scope,
            "name": self.name,
            "token": self.token,
            "csrf": self.csrf,
        }

    @classmethod
    def of(cls, data: dict[str, str | None]) -> Session:
        return cls(
            role=str(data["role"]),
            departement=str(data["departement"]),
            scope=data.get("scope"),
            name=str(data["name"]),
            token=str(data["token"]),
            csrf=str(data["csrf"]),
        )
