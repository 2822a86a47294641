"""A small HTTP client driven only by an OpenAPI document, as a generated client is.

It finds an operation by its ``operationId``, builds the URL from ``servers[0].url`` and
the operation's path (resolved against the document's own URL when relative), fills the
path parameters, refuses query parameters and bodies the operation does not declare,
sends JSON, and checks each answer against the document: the status code must be
declared, and the body must match the schema declared for it. It knows nothing else of
the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin

import requests
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator


class UndocumentedAnswer(AssertionError):
    """The API answered something its document does not describe."""


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any


class OpenApiClient:
    def __init__(self, document_url: str, headers: dict[str, str] | None = None) -> None:
        self.http = requests.Session()
        self.http.headers.update(headers or {})
        fetched = self.http.get(document_url, timeout=30)
        fetched.raise_for_status()
        self.document: dict[str, Any] = fetched.json()
        self.server = urljoin(document_url, self.document["servers"][0]["url"])
        self.operations: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for path, item in self.document["paths"].items():
            for method, operation in item.items():
                self.operations[operation["operationId"]] = (method, path, operation)

    def url(self, operation_id: str, **path_parameters: Any) -> str:
        _method, path, operation = self.operations[operation_id]
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        if declared != set(path_parameters):
            raise TypeError(f"{operation_id} takes the path parameters {sorted(declared)}")
        filled = path.format(
            **{name: quote(str(v), safe="") for name, v in path_parameters.items()}
        )
        return self.server.rstrip("/") + filled

    def call(
        self,
        operation_id: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        **path_parameters: Any,
    ) -> Answer:
        method, _path, operation = self.operations[operation_id]
        query = query or {}
        allowed = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        if set(query) - allowed:
            raise TypeError(f"{operation_id} takes no query parameters {set(query) - allowed}")
        if body is not None:
            content = operation["requestBody"]["content"]["application/json"]
            self._validate(OAS30WriteValidator, content["schema"], body, f"{operation_id} body")
        response = self.http.request(
            method.upper(),
            self.url(operation_id, **path_parameters),
            params=query,
            json=body,
            timeout=30,
        )
        declared = operation["responses"].get(str(response.status_code))
        if declared is None:
            raise UndocumentedAnswer(
                f"{operation_id} answered {response.status_code}, which its document does not "
                f"declare: {response.text[:300]}"
            )
        payload = response.json() if response.content else None
        if "content" in declared:
            schema = declared["content"]["application/json"]["schema"]
            self._validate(OAS30ReadValidator, schema, payload, f"{operation_id} answer")
        return Answer(response.status_code, payload, response.headers)

    def _validate(self, validator: Any, schema: dict[str, Any], value: Any, what: str) -> None:
        """``value`` matches ``schema``, whose ``$ref`` point into the document."""
        rooted = {**schema, "components": self.document["components"]}
        errors = list(validator(rooted, format_checker=validator.FORMAT_CHECKER).iter_errors(value))
        if errors:
            raise UndocumentedAnswer(f"{what} does not match its schema: {errors[0].message}")
