"""Cursor pagination: stable under concurrent inserts, ordered by time-ordered ids."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    ordering = "id"  # UUIDv7: creation order
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500


class NewestFirstPagination(IdCursorPagination):
    """For logs: the latest rows first."""

    ordering = "-id"
