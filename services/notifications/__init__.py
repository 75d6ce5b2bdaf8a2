"""The notifications service: email and signed webhooks for every step, never lost,
never twice."""
