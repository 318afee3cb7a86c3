"""The error format: ``{"error": {"code", "message", "details"}}``, for every failure.

Nothing a client sends produces a stack trace: unexpected exceptions are logged and
answered with a generic 500 body.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from quantrun.app.submit import UnknownModel, UnknownSymbol
from quantrun.domain.errors import (
    Conflict,
    InputTooLarge,
    ModelInputError,
    NotFound,
    QuantRunError,
    TransientError,
)
from quantrun.domain.quota import QuotaExceeded
from quantrun.logging import get_logger

log = get_logger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


# the 401 of a /v1 request without credentials (the middleware's and the dependency's)
BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}
MISSING_CREDENTIALS = "missing API key: send 'Authorization: Bearer <api key>'"


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []
        self.headers = headers


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or []}}
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        elif item in ("body", "query", "path", "header") and not parts:
            continue
        elif isinstance(item, str) and ("[" in item or item.startswith("function-")):
            continue  # pydantic's union-branch / validator tags are noise to users
        else:
            parts.append(str(item))
    return ".".join(parts)


def validation_details(errors: list[Any], prefix: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    details = []
    for err in errors:
        msg = str(err.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        details.append(
            {
                "field": _field((*prefix, *err.get("loc", ()))) or ".".join(prefix),
                "message": msg,
                "type": err.get("type", "invalid"),
            }
        )
    return details


def _summary(details: list[dict[str, Any]]) -> str:
    first = details[0]
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    where = f"{first['field']}: " if first["field"] else ""
    return f"{where}{first['message']}{more}"


def _allowed_methods(request: Request) -> str:
    """Every method the path answers to: Starlette's 405 names only those of the first
    route whose path matched (GET and POST of /v1/jobs are two routes)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.path_regex.match(request.url.path):
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_r: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_r: Request, exc: RequestValidationError) -> JSONResponse:
        details = validation_details(list(exc.errors()))
        for d in details:
            if d["type"] == "json_invalid":
                return error_response(
                    400, "invalid_json", "the request body is not valid JSON", details
                )
        return error_response(422, "validation_error", _summary(details), details)

    @app.exception_handler(ValidationError)
    async def _params_invalid(_r: Request, exc: ValidationError) -> JSONResponse:
        details = validation_details(list(exc.errors()), prefix=("params",))
        return error_response(422, "validation_error", _summary(details), details)

    @app.exception_handler(QuantRunError)
    async def _domain_error(_r: Request, exc: QuantRunError) -> JSONResponse:
        status = 422
        if isinstance(exc, NotFound):
            status = 404
        elif isinstance(exc, Conflict):
            status = 409
        elif isinstance(exc, InputTooLarge):
            status = 413
        elif isinstance(exc, TransientError):
            status = 503
        elif isinstance(exc, QuotaExceeded):
            return error_response(
                429,
                exc.code,
                exc.message,
                [{"quota": exc.quota, "limit": exc.limit}],
                headers={"Retry-After": str(exc.retry_after)},
            )
        elif not isinstance(exc, ModelInputError | UnknownModel | UnknownSymbol):
            status = 422
        details: list[dict[str, Any]] = []
        if exc.field:
            details.append({"field": exc.field, "message": exc.message})
        if isinstance(exc, InputTooLarge):
            details.append({"estimate": exc.estimate, "limit": exc.limit})
        return error_response(status, exc.code, exc.message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": _allowed_methods(request)}
        return error_response(exc.status_code, code, message, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"fields": {"path": request.url.path}})
        return error_response(500, "internal_error", "an internal error occurred; it was logged")
