"""Control characters in a query parameter or a path segment: which field says so."""

from __future__ import annotations

from shared.errors import FieldError
from shared.http.inputs import MESSAGE, control_character_errors


def test_printable_queries_and_paths_pass() -> None:
    assert control_character_errors("/v1/requests", b"commune=Saint-%C3%89tienne&limit=3") == []
    assert control_character_errors("/v1/requests/49007", b"") == []


def test_every_control_character_is_named_by_its_field() -> None:
    for byte in [*range(0x00, 0x20), 0x7F]:
        query = f"commune=ab%{byte:02X}cd&theme=energie".encode()
        assert control_character_errors("/v1/requests", query) == [
            FieldError("commune", MESSAGE)
        ], byte


def test_the_path_and_the_parameter_names_are_checked_too() -> None:
    assert control_character_errors("/v1/requests/ab\x00cd", b"") == [FieldError("chemin", MESSAGE)]
    assert control_character_errors("/v1/requests", b"com%0Amune=1") == [
        FieldError("com?mune", MESSAGE)
    ]
