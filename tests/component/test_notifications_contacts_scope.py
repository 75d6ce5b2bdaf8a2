"""Contacts belong to one département (ADR 0021): the same address in two départements
is two contacts with opaque ids and choices of their own; nobody of one département
reads or changes another's; the signed link at the foot of a message unsubscribes its
contact, and only it."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from shared.auth.tokens import Role
from shared.settings import KafkaSettings
from tests.component.notification_demandes import (
    ADMIN,
    DEP,
    Demande,
    preferences_url,
    publish,
)
from tests.support.services import RunningService
from tests.support.smtp_server import SmtpSink
from tests.support.tokens import bearer

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

OTHER = "2B"


async def test_a_contact_is_reached_only_from_its_own_departement(
    service: RunningService, kafka_topics: KafkaSettings, smtp: SmtpSink
) -> None:
    ours = Demande()
    theirs = Demande(contact=ours.contact, departement=OTHER)
    for demande in (ours, theirs):
        await publish(kafka_topics, demande.submitted())
    await smtp.wait_for(lambda: len(smtp.to(ours.contact)) == 2)

    mine = bearer(Role.COLLECTIVITE, DEP, ours.code)
    other_collectivite = bearer(Role.COLLECTIVITE, OTHER, theirs.code)
    other_team = bearer(Role.DEPARTEMENT, OTHER)
    other_actor = bearer(Role.ACTOR, OTHER, theirs.actor_id)
    url = await preferences_url(service.client, ours.contact, mine)
    their_url = await preferences_url(service.client, ours.contact, other_collectivite, OTHER)
    contact_id = url.split("/")[-2]
    assert contact_id != their_url.split("/")[-2]
    assert ours.contact not in url

    saved = await service.client.put(url, json={"opt_out": ["acteur_propose"]}, headers=mine)
    assert saved.status_code == 200, saved.text

    # From the other département: not found, by its own path or by ours, read or write.
    for headers in (other_collectivite, other_team, other_actor):
        for path in (url, url.replace(f"/{DEP}/", f"/{OTHER}/")):
            read = await service.client.get(path, headers=headers)
            changed = await service.client.put(path, json={"opt_out": []}, headers=headers)
            assert (read.status_code, changed.status_code) == (404, 404), (path, read.text)
            assert read.json()["detail"] == "Contact introuvable dans ce département."
        search = await service.client.post(
            f"/v1/departements/{DEP}/contacts/search",
            json={"email": ours.contact},
            headers=headers,
        )
        assert search.status_code == 404
    # Its choices are its own: the other département's contact chose nothing.
    theirs_read = await service.client.get(their_url, headers=other_collectivite)
    assert theirs_read.json()["opt_out"] == []
    ours_read = await service.client.get(url, headers=ADMIN)
    assert ours_read.json()["opt_out"] == ["acteur_propose"]


async def test_the_signed_link_of_a_message_unsubscribes_its_contact_only(
    service: RunningService, kafka_topics: KafkaSettings, smtp: SmtpSink
) -> None:
    ours = Demande()
    await publish(kafka_topics, ours.submitted())
    await smtp.wait_for(lambda: len(smtp.to(ours.contact)) == 1)
    [mail] = smtp.to(ours.contact)
    link = str(mail.message["List-Unsubscribe"]).strip().strip("<>")
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert ours.contact not in link and "token=" in link
    assert link in mail.text
    target = urlsplit(link)
    path = f"{target.path}?{target.query}"

    token = target.query.removeprefix("token=")
    contact_id, _, mac = token.partition(".")
    forged = f"/v1/unsubscribe?token={contact_id}.{mac[::-1]}"
    other = f"/v1/unsubscribe?token={'0' * 32}.{mac}"
    for refused in (forged, other):
        answer = await service.client.post(refused)
        assert answer.status_code == 404
        assert answer.json()["detail"] == "Lien de désabonnement invalide."

    done = await service.client.post(path)
    assert done.status_code == 200, done.text
    assert done.json()["departement"] == DEP
    assert "acteur_propose" in done.json()["opt_out"]
    url = await preferences_url(service.client, ours.contact, ADMIN)
    assert url.split("/")[-2].replace("-", "") == contact_id
    after = await service.client.get(url, headers=ADMIN)
    assert after.json()["opt_out"] == done.json()["opt_out"]
