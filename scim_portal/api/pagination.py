"""Cursor pagination: stable under concurrent inserts, ordered by time-ordered ids."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    ordering = "id"  # UUIDv7: creation order
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    #: The order of a page's results, as the OpenAPI document says it.
    order_words = "oldest first"

    def get_paginated_response_schema(self, schema: Any) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        # drf-spectacular passes a placeholder (not a dict) to wrap a list's examples.
        results = (
            {**schema, "description": f"This page's items, {self.order_words}."}
            if isinstance(schema, dict)
            else schema
        )
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {
                    **link,
                    "description": "URL of the next page (null on the last): follow it as is.",
                    "example": "https://app.example.com/api/v1/connections/?cursor=cD0wMTk2",
                },
                "previous": {
                    **link,
                    "description": "URL of the page before (null on the first).",
                    "example": None,
                },
                "results": results,
            },
        }


class NewestFirstPagination(IdCursorPagination):
    """For logs: the latest rows first."""

    ordering = "-id"
    order_words = "newest first"
