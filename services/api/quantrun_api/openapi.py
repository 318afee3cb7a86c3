"""The OpenAPI document, made exact (CONTRACT 5.1), so a generated client is right and
schemathesis finds nothing to disagree with:

- ``POST /v1/jobs``: the body is a union discriminated by ``model``, each branch with that
  model's params schema (the same pydantic models that validate them);
- ``POST /v1/models/{model}/run``: one path per model (the one route serves them all), so
  each body has its model's params schema;
- every ``/v1`` operation documents 401 (with ``WWW-Authenticate``) and 429 (with
  ``Retry-After``); one with a body 400 (not JSON) and 413 (too large); every 422 is the
  error format, not FastAPI's default;
- artifacts: the content types an artifact can have;
- links from a submitted job to reading and cancelling it.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from quantrun.app.models import catalogue
from quantrun.domain.artifacts import CONTENT_TYPES
from quantrun.domain.webhooks import url_pattern

COMPONENTS = "#/components/schemas/"
BINARY = {"type": "string", "format": "binary"}
ERROR = {"application/json": {"schema": {"$ref": COMPONENTS + "ErrorResponse"}}}
RUN_PATH = "/v1/models/{model}/run"


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": ERROR}
    if headers:
        response["headers"] = headers
    return response


AUTH_ERRORS = {
    "401": _error(
        "no credentials, or an API key or identity token that is not (or no longer) valid",
        {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    ),
    "429": _error(
        "over the request rate (`rate_limited`) or a job quota (`quota_exceeded`)",
        {
            "Retry-After": {
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
                "description": "seconds to wait",
            }
        },
    ),
}
BODY_ERRORS = {
    "400": _error("the body is not JSON (`invalid_json`)"),
    "413": _error("the body, the params or the estimated work is over a limit"),
}
INVALID = _error("a value is not accepted: `details` name the fields")


def install_openapi(app: FastAPI, *, webhooks_may_be_private: bool = False) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = exact(doc, webhooks_may_be_private=webhooks_may_be_private)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def exact(doc: dict[str, Any], *, webhooks_may_be_private: bool = False) -> dict[str, Any]:
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    refs = _add_params_schemas(schemas)
    _submit_union(doc, schemas, refs)
    _strategy_union(doc, schemas, refs)
    _webhook_url(schemas, webhooks_may_be_private)
    _run_paths(doc, refs)
    for path, item in doc["paths"].items():
        for operation in item.values():
            _errors(path, operation)
    _artifact_types(doc)
    _links(doc)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return doc


def _add_params_schemas(schemas: dict[str, Any]) -> dict[str, str]:
    """Each model's params schema (and the definitions it refers to) as components:
    model -> its $ref. A definition two models share must be the same schema."""
    refs = {}
    for entry in catalogue():
        as_text = json.dumps(entry.params_schema).replace('"#/$defs/', f'"{COMPONENTS}')
        schema = json.loads(as_text)
        for name, definition in schema.pop("$defs", {}).items():
            assert schemas.setdefault(name, definition) == definition, f"two schemas {name}"
        name = schema.get("title") or f"{entry.name}_params"
        assert name not in schemas, f"params schema {name} clashes with the API's"
        schemas[name] = schema
        refs[entry.name] = COMPONENTS + name
    return refs


def _submit_union(doc: dict[str, Any], schemas: dict[str, Any], refs: dict[str, str]) -> None:
    branches = {}
    for model, ref in refs.items():
        name = "Submit_" + model
        schemas[name] = {
            "title": name,
            "type": "object",
            "properties": {
                "model": {"type": "string", "const": model},
                "params": {"$ref": ref},
                "options": {"anyOf": [{"$ref": COMPONENTS + "JobOptions"}, {"type": "null"}]},
            },
            "required": ["model", "params"],
            "additionalProperties": False,
        }
        branches[model] = COMPONENTS + name
    # or a saved strategy's job (CONTRACT 5.5): it names no model, so it stands beside
    # the union discriminated by model
    schemas["Submit_strategy"] = {
        "title": "Submit_strategy",
        "type": "object",
        "properties": {
            "strategy_id": {"type": "string", "maxLength": 64},
            "options": {"anyOf": [{"$ref": COMPONENTS + "JobOptions"}, {"type": "null"}]},
        },
        "required": ["strategy_id"],
        "additionalProperties": False,
    }
    by_model = {
        "oneOf": [{"$ref": ref} for ref in branches.values()],
        "discriminator": {"propertyName": "model", "mapping": branches},
    }
    body = {"oneOf": [by_model, {"$ref": COMPONENTS + "Submit_strategy"}]}
    content = doc["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]
    content["application/json"]["schema"] = body
    schemas.pop("SubmitJob", None)


def _history_models(schemas: dict[str, Any], refs: dict[str, str]) -> dict[str, str]:
    """The models a strategy may be a template of: those that name their symbols."""
    return {
        model: ref
        for model, ref in refs.items()
        if "symbols" in schemas[ref.removeprefix(COMPONENTS)].get("properties", {})
    }


def _strategy_union(doc: dict[str, Any], schemas: dict[str, Any], refs: dict[str, str]) -> None:
    """``POST /v1/strategies``: one branch per history model, its params that model's
    schema (as a job's); ``PATCH``: a model among them."""
    created = schemas.pop("CreateStrategy")
    history = _history_models(schemas, refs)
    branches = {}
    for model, ref in history.items():
        name = "Strategy_" + model
        properties = dict(created["properties"])
        properties["model"] = {"type": "string", "const": model}
        properties["params"] = {"$ref": ref}
        schemas[name] = {**created, "title": name, "properties": properties}
        branches[model] = COMPONENTS + name
    body = {
        "oneOf": [{"$ref": ref} for ref in branches.values()],
        "discriminator": {"propertyName": "model", "mapping": branches},
    }
    content = doc["paths"]["/v1/strategies"]["post"]["requestBody"]["content"]
    content["application/json"]["schema"] = body
    change = schemas["ChangeStrategy"]["properties"]["model"]
    change["anyOf"] = [{"type": "string", "enum": sorted(history)}, {"type": "null"}]


def _webhook_url(schemas: dict[str, Any], may_be_private: bool) -> None:
    """The URL's shape as registration checks it first (its host's addresses, a lookup
    at registration, are the rest); plain http only where private addresses are allowed."""
    url = schemas["CreateWebhook"]["properties"]["url"]
    url["pattern"] = url_pattern(allow_http=may_be_private)


def _run_paths(doc: dict[str, Any], refs: dict[str, str]) -> None:
    generic = doc["paths"].pop(RUN_PATH)["post"]
    for model, ref in refs.items():
        operation = copy.deepcopy(generic)
        operation["operationId"] = f"run_{model}"
        operation["summary"] = f"Run {model} on a small input; the result in the response"
        operation["parameters"] = [
            p for p in operation.get("parameters", []) if p.get("name") != "model"
        ]
        operation["responses"].pop("404", None)  # the path names a model that exists
        operation["requestBody"]["content"]["application/json"]["schema"] = {
            "type": "object",
            "properties": {"params": {"$ref": ref}},
            "required": ["params"],
            "additionalProperties": False,
        }
        doc["paths"][RUN_PATH.replace("{model}", model)] = {"post": operation}
    doc["components"]["schemas"].pop("RunModel", None)


def _errors(path: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    if "422" in responses or operation.get("parameters") or "requestBody" in operation:
        responses["422"] = INVALID
    if not path.startswith("/v1/"):
        return
    responses.update(AUTH_ERRORS)
    if "requestBody" in operation:
        responses.update(BODY_ERRORS)


def _links(doc: dict[str, Any]) -> None:
    """A submitted job's id leads to reading and cancelling it (clients and stateful
    tests follow these)."""
    paths = doc["paths"]
    job = {"job_id": "$response.body#/id"}
    links = {
        "GetJob": {"operationId": paths["/v1/jobs/{job_id}"]["get"]["operationId"]},
        "CancelJob": {"operationId": paths["/v1/jobs/{job_id}/cancel"]["post"]["operationId"]},
    }
    for status in ("200", "202"):
        paths["/v1/jobs"]["post"]["responses"][status]["links"] = {
            name: {**link, "parameters": job} for name, link in links.items()
        }


def _artifact_types(doc: dict[str, Any]) -> None:
    download = doc["paths"]["/v1/jobs/{job_id}/artifacts/{name}"]["get"]
    download["responses"]["200"]["content"] = {
        # a JSON artifact (metrics.json, manifest.json) is a document of its own shape
        content_type: {"schema": {} if content_type == "application/json" else BINARY}
        for content_type in sorted({t.split(";")[0] for t in CONTENT_TYPES.values()})
    }
