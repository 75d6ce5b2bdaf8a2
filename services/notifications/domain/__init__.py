"""Pure rules of the notifications service (no I/O); they arrive with issue #5."""
