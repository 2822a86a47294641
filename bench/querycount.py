"""Middleware for both benchmark servers: the number of SQL queries of each request
in an ``X-Query-Count`` response header (counted with a database execute wrapper), and
the time the application spent on it, in milliseconds, in ``X-Server-Ms`` (from this
middleware, the first, to the response: no HTTP parsing, no wait for a free worker)."""

import time

from django.db import connection


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        count = [0]

        def counter(execute, sql, params, many, context):
            count[0] += 1
            return execute(sql, params, many, context)

        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        response["X-Server-Ms"] = f"{(time.perf_counter() - started) * 1000:.3f}"
        response["X-Query-Count"] = str(count[0])
        return response
