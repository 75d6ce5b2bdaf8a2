"""The kernel's errors (:mod:`shared.errors`) as HTTP answers: one status code each,
French messages, one per field.

Every refusal of the HTTP APIs has the shape
``{"detail": "...", "errors": [{"field": "...", "message": "..."}]}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db.errors import database_unavailable
from shared.errors import (
    Conflict,
    DomainValidationError,
    FieldError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)

_MESSAGES: Mapping[str, str] = {
    "missing": "Ce champ est obligatoire.",
    "extra_forbidden": "Ce champ n'est pas attendu.",
    "string_type": "Une chaîne de caractères est attendue.",
    "string_too_short": "Trop court : au moins {min_length} caractère(s).",
    "string_too_long": "Trop long : au plus {max_length} caractère(s).",
    "string_pattern_mismatch": "Format invalide.",
    "int_type": "Un nombre entier est attendu.",
    "int_parsing": "Un nombre entier est attendu.",
    "finite_number": "Un nombre fini est attendu.",
    "string_unicode": "Texte Unicode invalide.",
    "date_from_datetime_inexact": "Une date sans heure (AAAA-MM-JJ) est attendue.",
    "decimal_type": "Un montant décimal est attendu.",
    "decimal_parsing": "Un montant décimal est attendu.",
    "decimal_max_digits": "Montant trop grand : au plus {max_digits} chiffres.",
    "decimal_max_places": "Au plus {decimal_places} décimales.",
    "decimal_whole_digits": "Montant trop grand.",
    "greater_than_equal": "La valeur doit être supérieure ou égale à {ge}.",
    "less_than_equal": "La valeur doit être inférieure ou égale à {le}.",
    "greater_than": "La valeur doit être strictement supérieure à {gt}.",
    "less_than": "La valeur doit être strictement inférieure à {lt}.",
    "list_type": "Une liste est attendue.",
    "too_short": "Au moins {min_length} élément(s).",
    "too_long": "Au plus {max_length} élément(s).",
    "enum": "Valeur inconnue ; valeurs possibles : {expected}.",
    "date_type": "Une date (AAAA-MM-JJ) est attendue.",
    "date_parsing": "Une date (AAAA-MM-JJ) est attendue.",
    "date_from_datetime_parsing": "Une date (AAAA-MM-JJ) est attendue.",
    "uuid_type": "Un identifiant UUID est attendu.",
    "uuid_parsing": "Un identifiant UUID est attendu.",
    "value_error": "{error}",
    "json_invalid": "Le corps de la requête n'est pas un JSON valide.",
    "model_attributes_type": "Un objet JSON est attendu.",
    "dict_type": "Un objet JSON est attendu.",
    "bool_type": "Un booléen est attendu.",
    "bool_parsing": "Un booléen est attendu.",
    "float_type": "Un nombre est attendu.",
    "float_parsing": "Un nombre est attendu.",
}


def french_message(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    context = dict(error.get("ctx") or {})
    if kind == "value_error":
        reason = str(context.get("reason") or context.get("error") or error.get("msg", ""))
        if "email" in reason.lower() or "@" in reason:
            return "Adresse électronique invalide."
        return reason.removeprefix("Value error, ")
    if "expected" in context:
        context["expected"] = str(context["expected"]).replace(" or ", " ou ")
    template = _MESSAGES.get(kind)
    if template is None:
        return f"Valeur invalide ({kind})."
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return template


def field_name(location: Iterable[Any]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path")]
    return ".".join(parts) or "corps"


def validation_errors(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    return [FieldError(field_name(e.get("loc", ())), french_message(e)) for e in errors]


def error_body(detail: str, errors: Sequence[FieldError] = ()) -> dict[str, Any]:
    return {
        "detail": detail,
        "errors": [{"field": e.field, "message": e.message} for e in errors],
    }


async def on_request_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    return JSONResponse(error_body("La demande contient des erreurs.", errors), status_code=422)


async def on_domain_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainValidationError)
    return JSONResponse(error_body("La demande contient des erreurs.", exc.errors), status_code=422)


async def on_not_found(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotFound)
    return JSONResponse(error_body(exc.message), status_code=404)


async def on_forbidden(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Forbidden)
    return JSONResponse(error_body(exc.message), status_code=403)


async def on_conflict(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Conflict)
    return JSONResponse(error_body(exc.message), status_code=409)


async def on_payload_too_large(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PayloadTooLarge)
    # The client may still be sending: the connection is closed rather than drained.
    return JSONResponse(error_body(exc.message), status_code=413, headers={"Connection": "close"})


async def on_unsupported_media_type(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnsupportedMediaType)
    return JSONResponse(error_body(exc.message), status_code=415)


async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and "pars" in str(exc.detail).lower():
        # A body that is not UTF-8 or not JSON FastAPI can read: said in French, like the rest.
        errors = [FieldError("corps", "Le corps de la requête n'est pas un JSON UTF-8 lisible.")]
        return JSONResponse(error_body("La demande contient des erreurs.", errors), 422)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def on_database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    """503 with ``Retry-After`` when the database cannot be reached (down, restarting,
    connection lost: ``shared.db.errors.database_unavailable``); any other error goes on
    to the 500 handler."""
    assert isinstance(exc, DBAPIError | OSError)
    if not database_unavailable(exc):
        raise exc
    # Nothing was committed, or the client's retry finds it done (Idempotency-Key, 409).
    detail = "Service momentanément indisponible ; réessayez dans quelques secondes."
    return JSONResponse(error_body(detail), status_code=503, headers={"Retry-After": "2"})


EXCEPTION_HANDLERS = {
    DBAPIError: on_database_unavailable,
    # The driver's own connection errors (refused, reset, timed out), which SQLAlchemy
    # does not wrap.
    OSError: on_database_unavailable,
    StarletteHTTPException: on_http_error,
    RequestValidationError: on_request_validation,
    DomainValidationError: on_domain_validation,
    NotFound: on_not_found,
    Forbidden: on_forbidden,
    Conflict: on_conflict,
    PayloadTooLarge: on_payload_too_large,
    UnsupportedMediaType: on_unsupported_media_type,
}
