"""Each request's id, in its response and in every log record written while it runs (README,
"Deploying": logs).

The id is the request's ``X-Request-ID`` when that is a short, safe token (a proxy or a
load balancer in front made it: its logs and ours then name the same request), else a new
uuid4. It goes back in the response's ``X-Request-ID``, so a user reporting a failure can
quote it, and into log records as ``request_id`` (``RequestIdFilter``; "-" outside a
request). It is kept in a context variable, so records of the ORM, of Django's 500 handler
and of our own code all carry it without being handed the request.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import uuid

from django.http import HttpRequest

HEADER = "X-Request-ID"
# Letters, digits and -._: what proxies send (nginx's $request_id, GUIDs); nothing a log line
# or a header could be split or decorated with.
SAFE = re.compile(r"[A-Za-z0-9._-]{1,128}")

current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        sent = request.headers.get(HEADER, "")
        request.request_id = sent if SAFE.fullmatch(sent) else str(uuid.uuid4())
        token = current.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            current.reset(token)
        response[HEADER] = request.request_id
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current.get()
        return True


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is written, not when logging was
    configured (as Python's own last-resort handler does), so that a test capturing stderr
    sees what an operator would."""

    def __init__(self, level: int = logging.NOTSET):
        logging.Handler.__init__(self, level)

    @property
    def stream(self):
        return sys.stderr
