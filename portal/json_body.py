"""The JSON body of a protocol request (Graph, SCIM), read within limits (docs/api.md and
docs/provisioning.md, "Limits").

* **Size.** At most ``limit`` bytes, counted before anything is read: Django's own cap
  (``DATA_UPLOAD_MAX_MEMORY_SIZE``, 2.5 MB) raised an exception Graph answered with a 500 and
  SCIM with an HTML page, and Graph accepts bodies up to 4 MB.
* **Depth.** Objects and arrays nested at most ``MAX_DEPTH`` deep: no request of Graph or SCIM
  goes past 6, and deeper JSON cost a ``RecursionError`` (a 500).
* **Text.** No string, key or value, holds a control character other than tab, line feed and
  carriage return, nor half of a surrogate pair: PostgreSQL cannot store NUL (a 500 wherever
  a value reached a query) and none of them is text a provider sends.

Each protocol turns :class:`BodyRefused` into its own error envelope.
"""

from __future__ import annotations

import json
import re

from django.http import HttpRequest

MAX_DEPTH = 32
NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class BodyRefused(Exception):
    """``status`` 413 (too large) or 400; ``kind``: ``size``, ``syntax``, ``depth`` or
    ``text``."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def declared_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def megabytes(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB"


def read(request: HttpRequest, *, limit: int, empty: object = None) -> object:
    """The body parsed as JSON (``empty`` when there is none), or :class:`BodyRefused`."""
    too_large = BodyRefused(
        413, "size", f"The request body is larger than {megabytes(limit)} ({limit} bytes)."
    )
    if declared_length(request) > limit:
        raise too_large
    if hasattr(request, "_body"):
        raw = request._body
    else:
        # Read here rather than through ``request.body``, which refuses anything over
        # DATA_UPLOAD_MAX_MEMORY_SIZE; kept where ``request.body`` finds it.
        raw = request._body = request.read(limit + 1)
    if len(raw) > limit:
        raise too_large
    if not raw.strip():
        return empty
    try:
        data = json.loads(raw)
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError):
        raise BodyRefused(400, "syntax", "The request body is not valid JSON.") from None
    check(data)
    return data


def _too_deep() -> BodyRefused:
    return BodyRefused(400, "depth", f"The request body is nested deeper than {MAX_DEPTH} levels.")


def check(data: object) -> None:
    """Depth and text of parsed JSON, walked without recursion."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if NOT_TEXT.search(value):
                raise BodyRefused(
                    400, "text", "The request body contains a control character (such as NUL)."
                )
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _too_deep()
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                stack.append((item, depth + 1))
                if isinstance(key, str):
                    stack.append((key, depth))
