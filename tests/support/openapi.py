"""The published control-plane document as a judge: every answer a test gets from the twin
must be one the document allows for that operation (status, media type, and body schema).

The document is Synadia's (`tests/schemas/synadia-cloud/control-plane-openapi.yaml`, copied
unchanged from the reference); OpenAPI 3.0 schemas are checked with openapi-schema-validator,
and a property the schema does not declare is a failure too (JSON Schema lets it through, and
the twin once passed the server's own fields on that way).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from devkit.controlplane_twin.app import INJECTED_HEADER
from tests.support.commands import ROOT

DOCUMENT = ROOT / "tests" / "schemas" / "synadia-cloud" / "control-plane-openapi.yaml"
_URI = "urn:synadia-control-plane"


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    responses: dict[str, Any]


@dataclass
class PublishedDocument:
    operations: list[Operation]
    registry: Registry[Any]
    schemas: dict[str, Any]
    checked: list[tuple[str, str, int]] = field(default_factory=list)

    def operation(self, method: str, path: str) -> Operation:
        for operation in self.operations:
            if operation.method == method and operation.pattern.fullmatch(path):
                return operation
        raise AssertionError(f"{method} {path} is not an operation of the published document")

    def check(self, method: str, path: str, response: httpx.Response) -> None:
        """`path` is the request path after `/api`."""
        operation = self.operation(method, path)
        status = str(response.status_code)
        declared = operation.responses.get(status)
        assert declared is not None, f"{method} {operation.template} may not answer {status}"
        content = declared.get("content") or {}
        if content and response.status_code < 400:
            media = response.headers.get("Content-Type", "").split(";")[0].strip()
            assert media in content, (
                f"{method} {operation.template}: {media} not in {list(content)}"
            )
            schema = content[media].get("schema", {})
            body = json.loads(response.content) if media == "application/json" else response.text
            self._validate(schema, body, f"{method} {operation.template} {status}")
        self.checked.append((method, operation.template, response.status_code))

    def _validate(self, schema: dict[str, Any], body: Any, where: str) -> None:
        rooted = {"$ref": f"{_URI}{schema['$ref']}"} if "$ref" in schema else schema
        validator = OAS30Validator(
            rooted, registry=self.registry, format_checker=oas30_format_checker
        )
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, f"{where}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in errors[:5]
        )
        extra = list(undeclared(self.schemas, schema, body, ""))
        assert not extra, f"{where}: properties the document does not declare: {extra[:5]}"


def _resolved(schemas: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _parts(schemas: dict[str, Any], schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The schema and every schema it combines (allOf, anyOf, oneOf), resolved."""
    schema = _resolved(schemas, schema)
    yield schema
    for key in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(key, []):
            yield from _parts(schemas, part)


def undeclared(
    schemas: dict[str, Any], schema: dict[str, Any], body: Any, at: str
) -> Iterator[str]:
    """Where `body` holds a property its schema does not declare; a free-form object (no
    properties declared) and a map (`additionalProperties`) hold anything."""
    parts = list(_parts(schemas, schema))
    if isinstance(body, list):
        for part in parts:
            if "items" in part:
                for index, item in enumerate(body):
                    yield from undeclared(schemas, part["items"], item, f"{at}/{index}")
        return
    if not isinstance(body, dict):
        return
    declared: dict[str, Any] = {}
    additional: Any = None
    for part in parts:
        declared.update(part.get("properties", {}))
        additional = part.get("additionalProperties", additional)
    if not declared and additional is None:
        return
    for key, value in body.items():
        if key in declared:
            yield from undeclared(schemas, declared[key], value, f"{at}/{key}")
        elif isinstance(additional, dict):
            yield from undeclared(schemas, additional, value, f"{at}/{key}")
        elif additional is not True:
            yield f"{at}/{key}"


@cache
def _load(path: Path) -> tuple[list[Operation], Registry[Any], dict[str, Any]]:
    document = yaml.safe_load(path.read_text())
    operations = []
    for template, item in document["paths"].items():
        pattern = re.compile(re.sub(r"\{[^}]+\}", "[^/]+", template))
        for method, operation in item.items():
            if method in ("get", "post", "patch", "put", "delete"):
                operations.append(
                    Operation(method.upper(), template, pattern, operation["responses"])
                )
    resource = Resource.from_contents(document, default_specification=DRAFT4)
    schemas = document["components"]["schemas"]
    return operations, Registry().with_resource(_URI, resource), schemas


def declared_properties(schema: str) -> set[str]:
    """The property names a component schema declares, its allOf, anyOf and oneOf included."""
    _, _, schemas = _load(DOCUMENT)
    found: set[str] = set()
    for part in _parts(schemas, schemas[schema]):
        found.update(part.get("properties", {}))
    return found


def published_document() -> PublishedDocument:
    operations, registry, schemas = _load(DOCUMENT)
    return PublishedDocument(operations, registry, schemas)


class CheckedTransport(httpx.HTTPTransport):
    """Real HTTP to the twin; every answer checked against the document on its way back, but
    for the failures a test told the twin to inject (statuses the document does not declare)."""

    def __init__(self, document: PublishedDocument) -> None:
        super().__init__()
        self.document = document

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        response.read()
        path = request.url.path
        if path.startswith("/api/") and INJECTED_HEADER not in response.headers:
            self.document.check(request.method, path.removeprefix("/api"), response)
        return response
