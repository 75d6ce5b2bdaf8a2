"""Pure rules of the billing service (no I/O); they arrive with issue #4."""
