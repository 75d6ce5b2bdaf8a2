"""Pure rules of the matching service (no I/O); they arrive with issue #3."""
