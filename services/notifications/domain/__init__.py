"""Pure rules of the notifications service (no I/O): who hears what (``rules``), the
messages and their states (``model``), retries (``delivery``), webhook signatures
(``webhook``), names of needs (``wording``) and what the repositories hand back
(``views``)."""
