"""``POST /v1.0/$batch``: Graph's JSON batching (docs/api.md, "Batch").

Up to 20 requests in one call. Each goes through the URL resolver to the view it would reach
sent alone, as a request of its own: the batch's bearer token, its own permission check, its
own place in the app's rate, the service's own transaction and audit event, its own answer.
``dependsOn`` orders them; a request whose dependency failed answers 424 without running.
A malformed batch is one 400 and runs nothing.

msgraph-sdk's ``BatchRequestItem`` writes the URL it is given, absolute when that is
(``https://{host}/v1.0/users/…``): an absolute URL is taken when its scheme and host are
those the batch itself was sent to and its path is under ``/v1.0/``; any other is a 400 for
that request, never a call elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt

from portal import json_body
from portal.graph import PREFIX, errors, parsing
from portal.graph.auth import authenticate
from portal.graph.errors import GraphError, bad_request
from portal.graph.views import answered, finish

logger = logging.getLogger(__name__)

MAX_REQUESTS = 20
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
MAX_ID, MAX_URL, MAX_HEADERS, MAX_HEADER_VALUE = 128, 2048, 50, 8192
CONTENT_TYPE, CONTENT_LENGTH = "Content-Type", "Content-Length"
JSON = re.compile(r"[/+]json\b", re.IGNORECASE)
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")
# What a request of the batch takes from the batch, never from its own headers: who is
# calling (the batch's token) and where the batch came from (host, proxy, address).
FROM_THE_BATCH = re.compile(
    r"(authorization|host|cookie|content-length|forwarded|x-forwarded-.*|x-real-ip)",
    re.IGNORECASE,
)


@dataclass
class Item:
    """One request of the batch, as read: ``key`` is its id in lower case (ids are
    case-insensitive), ``depends`` the keys it waits for."""

    id: str
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    depends: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.id.lower()


@csrf_exempt
def batch(request: HttpRequest) -> HttpResponse:
    return answered(request, lambda: _batch(request))


batch.methods = ("POST",)  # read by the hostile-input suite, which walks the URLs


def _batch(request: HttpRequest) -> JsonResponse:
    if request.method not in batch.methods:
        raise GraphError(
            405,
            errors.BAD_REQUEST,
            "Specified HTTP method is not allowed for the request target.",
            headers={"Allow": "POST"},
        )
    # The token once for the batch (a 401 is the whole batch's); each request is then
    # checked and counted as it runs.
    authenticate(request, write=False, counted=False)
    items = read(parsing.body(request))
    answers: dict[str, dict] = {}
    failures: dict[str, str] = {}  # the id of each request that failed, by key
    for item in _in_order(items):
        failed = next((failures[key] for key in item.depends if key in failures), None)
        if failed is not None:
            answer, status = _failed_dependency(request, item, failed)
        else:
            answer, status = run(request, item)
        answers[item.key] = answer
        if status >= 400:
            failures[item.key] = item.id
    return JsonResponse({"responses": [answers[item.key] for item in items]})


# -- Reading the batch ----------------------------------------------------------------------------


def read(data: dict) -> list[Item]:
    """The batch's requests, or Graph's 400 for the whole batch."""
    requests = data.get("requests")
    if not isinstance(requests, list):
        raise bad_request("The batch must hold a 'requests' array.")
    if not 1 <= len(requests) <= MAX_REQUESTS:
        raise bad_request(
            f"A batch holds 1 to {MAX_REQUESTS} requests; this one holds {len(requests)}."
        )
    items = [_item(n, raw) for n, raw in enumerate(requests)]
    keys = [item.key for item in items]
    if len(set(keys)) < len(keys):
        twice = next(item.id for n, item in enumerate(items) if item.key in keys[:n])
        raise bad_request(f"The id '{parsing.printable(twice)}' names two requests of the batch.")
    for item in items:
        missing = next((key for key in item.depends if key not in keys), None)
        if missing is not None:
            raise bad_request(
                f"Request '{parsing.printable(item.id)}' depends on "
                f"'{parsing.printable(missing)}', which is not a request of the batch."
            )
    return items


def _item(n: int, raw) -> Item:
    if not isinstance(raw, dict):
        raise bad_request(f"Request {n + 1} of the batch is not a JSON object.")
    id_ = raw.get("id")
    if not isinstance(id_, str) or not id_.strip() or len(id_) > MAX_ID:
        raise bad_request(
            f"Request {n + 1} of the batch needs an 'id': a string of 1 to {MAX_ID} characters."
        )
    shown = parsing.printable(id_)
    method = raw.get("method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise bad_request(f"Request '{shown}' needs a 'method': one of {', '.join(METHODS)}.")
    url = raw.get("url")
    if not isinstance(url, str) or not url.strip() or len(url) > MAX_URL:
        raise bad_request(
            f"Request '{shown}' needs a 'url' of 1 to {MAX_URL} characters, relative to /v1.0/."
        )
    headers = _headers(raw.get("headers"), shown)
    body = _body(raw, headers, shown)
    depends = []
    # msgraph-sdk writes "depends_on" (an empty array when there is none) where Graph reads
    # "dependsOn": both are taken.
    for name in ("dependsOn", "depends_on"):
        value = raw.get(name)
        if value is None:
            continue
        if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
            raise bad_request(f"'{name}' of request '{shown}' must be an array of ids.")
        depends.extend(v.lower() for v in value)
    if id_.lower() in depends:
        raise bad_request(f"Request '{shown}' depends on itself.")
    return Item(id_, method.upper(), url.strip(), headers, body, list(dict.fromkeys(depends)))


def _headers(raw, shown: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > MAX_HEADERS:
        raise bad_request(f"'headers' of request '{shown}' must be an object of strings.")
    for name, value in raw.items():
        if (
            not HEADER_NAME.fullmatch(name)
            or not isinstance(value, str)
            or len(value) > MAX_HEADER_VALUE
            or "\r" in value
            or "\n" in value
        ):
            raise bad_request(
                f"Header '{parsing.printable(name)}' of request '{shown}' is not a valid header."
            )
    return raw


def _body(raw: dict, headers: dict[str, str], shown: str) -> bytes | None:
    """The request's body: JSON as sent, or a string holding it in base64 (as Graph takes
    bodies that are not JSON). Graph asks for a Content-Type with any body."""
    if raw.get("body") is None:
        return None
    if CONTENT_TYPE.lower() not in {name.lower() for name in headers}:
        raise bad_request(f"Request '{shown}' has a body but no Content-Type header.")
    value = raw["body"]
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request(
                f"The body of request '{shown}' is a string that is not base64."
            ) from None
    return json.dumps(value).encode()


def _in_order(items: list[Item]) -> list[Item]:
    """The requests in an order where each comes after those it depends on (otherwise as
    sent); a cycle is a 400."""
    done: set[str] = set()
    ordered: list[Item] = []
    waiting = list(items)
    while waiting:
        ready = [item for item in waiting if all(key in done for key in item.depends)]
        if not ready:
            raise bad_request(
                f"The dependsOn of request '{parsing.printable(waiting[0].id)}' form a cycle."
            )
        for item in ready:
            ordered.append(item)
            done.add(item.key)
        waiting = [item for item in waiting if item.key not in done]
    return ordered


# -- Running one request ----------------------------------------------------------------------------


class Subrequest(HttpRequest):
    """One request of the batch, as Django would have built it had it come alone: the
    batch's host, scheme, address and token, the request's own method, URL, headers and
    body."""

    def __init__(self, outer: HttpRequest, item: Item):
        super().__init__()
        self._scheme = outer.scheme
        self.method = item.method
        self.META = {
            name: value
            for name, value in outer.META.items()
            if not name.startswith(("HTTP_", "CONTENT_", "wsgi.input"))
            or (
                name.startswith("HTTP_")
                and FROM_THE_BATCH.fullmatch(name.removeprefix("HTTP_").replace("_", "-"))
            )
        }
        for name, value in item.headers.items():
            # "X_Forwarded_For" would land on the same key as "X-Forwarded-For".
            if FROM_THE_BATCH.fullmatch(name.replace("_", "-")):
                continue
            key = name.upper().replace("-", "_")
            # As WSGI names them: Content-Type without the HTTP_ prefix.
            meta = key if name.lower() == CONTENT_TYPE.lower() else f"HTTP_{key}"
            self.META[meta] = value
        body = item.body or b""
        self.META.update(REQUEST_METHOD=item.method, CONTENT_LENGTH=str(len(body)))
        self._body, self._stream, self._read_started = body, io.BytesIO(body), False
        self._set_content_type_params(self.META)
        self.route(outer.path, "")

    def route(self, path: str, query: str) -> None:
        self.path = self.path_info = path
        self.META.update(PATH_INFO=path, QUERY_STRING=query)
        self.GET = QueryDict(query)

    def _get_scheme(self) -> str:
        return self._scheme


def run(outer: HttpRequest, item: Item) -> tuple[dict, int]:
    """The request's answer and status: its view's, or Graph's envelope when its URL is
    refused."""
    sub = Subrequest(outer, item)
    try:
        sub.route(*_target(outer, item))
        match = resolve(sub.path_info)
        if match.func is batch:
            raise bad_request("A batch cannot hold another batch.")
    except GraphError as error:
        return answer(item, finish(sub, errors.response(sub, error)))
    except Resolver404:
        return answer(item, finish(sub, errors.response(sub, errors.not_found(sub.path))))
    sub.resolver_match = match
    return answer(item, match.func(sub, *match.args, **match.kwargs))


def _target(outer: HttpRequest, item: Item) -> tuple[str, str]:
    """The path and query string the request's URL names, or a 400 for this request."""
    shown = parsing.printable(item.id)
    try:
        parts = urlsplit(item.url)
    except ValueError:
        raise bad_request(f"The URL of request '{shown}' is not a URL.") from None
    if parts.scheme or parts.netloc:
        own = (
            parts.scheme.lower() == outer.scheme
            and parts.netloc.lower() == outer.get_host().lower()
        )
        if not own or not parts.path.startswith(PREFIX):
            raise bad_request(
                f"The URL of request '{shown}' names another host or API: a request of a "
                f"batch is relative to {PREFIX} ('/users/{{id}}'), or an absolute URL of "
                f"{outer.scheme}://{outer.get_host()}{PREFIX}."
            )
        path = parts.path
    else:
        path = PREFIX + parts.path.lstrip("/")
    try:
        path = unquote(path, errors="strict")
        query = QueryDict(parts.query)
    except (UnicodeDecodeError, SuspiciousOperation):
        raise bad_request(f"The URL of request '{shown}' is not a valid URL.") from None
    texts = [path, *query.keys(), *(v for _name, values in query.lists() for v in values)]
    # As the middleware refuses them in a request's own URL (a NUL reached a query: a 500).
    if any(json_body.NOT_TEXT.search(text) or "\n" in text or "\t" in text for text in texts):
        raise bad_request(f"The URL of request '{shown}' holds a control character.")
    return path, parts.query


def _failed_dependency(outer: HttpRequest, item: Item, failed: str) -> tuple[dict, int]:
    sub = Subrequest(outer, item)
    error = GraphError(
        424,
        "FailedDependency",
        f"The request depends on request '{parsing.printable(failed)}', which failed.",
    )
    return answer(item, finish(sub, errors.response(sub, error)))


def answer(item: Item, reply: HttpResponse) -> tuple[dict, int]:
    """A response of the batch (the request's id, status, headers and body: JSON as
    answered, anything else in base64) and its status."""
    content = b"".join(reply.streaming_content) if reply.streaming else reply.content
    headers = dict(reply.items())
    found = {"id": item.id, "status": reply.status_code, "headers": headers}
    headers.pop(CONTENT_LENGTH, None)
    if not content:
        headers.pop(CONTENT_TYPE, None)
    elif JSON.search(headers.get(CONTENT_TYPE, "")):
        found["body"] = json.loads(content)
    else:
        found["body"] = base64.b64encode(content).decode()
    return found, reply.status_code
