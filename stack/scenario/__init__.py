"""The demo scenario: real communes and EPCI of several départements ask for help.

Deterministic for a given seed: :mod:`stack.scenario.plan` draws every demande (its
requester, body, channel, identifier, whether it is withdrawn) from the seed, and every
answer of an actor from the seed and stable identities (the demande's index, the actor's
id, the round), never from timing. :mod:`stack.scenario.play` plays it so that the
services see the same sequence on every run: within a département one demande at a time,
from its filing to the last answer of its actors (the département's actors are its own),
the départements side by side. The same seed gives the same figures, latencies aside.

The actor catalogues are loaded and the actors' addresses registered; every commune and
EPCI joins the offer. Demandes arrive over HTTP (from the collectivité itself or from the
département's team) and as command events from a département system; a few are withdrawn
in each département. Actors accept, decline or let proposals expire, then complete most
missions; billing invoices them, and the annual cotisation run invoices every member.
Every event is read back from Kafka to measure the end-to-end latency, down to the
acknowledgement email handed to the mail server. :mod:`stack.scenario.summary` prints
the summary, read from the services' APIs.
"""
