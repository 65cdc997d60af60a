"""OData query options of the API (docs/api.md, "Queries"): ``$select``, ``$top``, the
``$filter`` forms Graph offers for licensing, and paging by ``@odata.nextLink``.

``$filter`` is parsed by odata-query; the tree must be one of the listed forms, joined by
``and``; anything else is Graph's 400. The skip token is opaque: an encrypted, authenticated
position.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, QueryDict
from odata_query import ast
from odata_query.exceptions import ODataException
from odata_query.grammar import ODataLexer, ODataParser

from portal.graph import PREFIX
from portal.graph.errors import UNSUPPORTED_QUERY, GraphError, bad_request

DEFAULT_TOP, MAX_TOP = 100, 999
_TOP = re.compile(r"[0-9]{1,3}")


def top(request: HttpRequest) -> int:
    raw = request.GET.get("$top")
    if raw is None:
        return DEFAULT_TOP
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses (a 500).
    if not _TOP.fullmatch(raw) or not 1 <= int(raw) <= MAX_TOP:
        raise bad_request(
            f"Invalid page size specified: '{raw[:20]}'. Must be between 1 and {MAX_TOP} inclusive."
        )
    return int(raw)


def select(request: HttpRequest, known: set[str], default: list[str], kind: str) -> list[str]:
    raw = request.GET.get("$select")
    if not raw:
        return default
    wanted = [s.strip() for s in raw.split(",") if s.strip()]
    for name in wanted:
        if name not in known:
            raise bad_request(
                f"Could not find a property named '{name[:60]}' on type 'microsoft.graph.{kind}'."
            )
    return ["id", *(w for w in dict.fromkeys(wanted) if w != "id")]


def refuse_unsupported(request: HttpRequest, allowed: set[str]) -> None:
    for name in request.GET:
        if name.startswith("$") and name not in allowed:
            raise GraphError(
                400, UNSUPPORTED_QUERY, f"The query parameter '{name[:40]}' is not supported."
            )


@dataclass(frozen=True)
class Condition:
    """One recognised ``$filter`` form: ``field`` and its value."""

    field: str
    value: object


_COUNT = re.compile(r"/\$count\b")
# odata-query knows the function as ``startswith``; Graph's documents write ``startsWith``.
_STARTS_WITH = re.compile(r"\bstartswith(?=\s*\()", re.IGNORECASE)


def parse_filter(request: HttpRequest, forms: dict) -> list[Condition]:
    """The ``$filter`` as conditions (all must hold). ``forms`` maps a recognised shape's name
    to a function of the tree returning its value, or None when the tree is not that shape."""
    raw = request.GET.get("$filter")
    if not raw:
        return []
    try:
        tree = ODataParser().parse(
            ODataLexer().tokenize(_STARTS_WITH.sub("startswith", _COUNT.sub("/count__", raw)))
        )
    except (ODataException, ValueError, IndexError, TypeError):
        raise bad_request(f"Invalid filter clause: syntax error in '{raw[:200]}'.") from None
    conditions = []
    for part in _conjuncts(tree):
        for name, recognise in forms.items():
            value = recognise(part)
            if value is not None:
                conditions.append(Condition(name, value))
                break
        else:
            raise GraphError(
                400, UNSUPPORTED_QUERY, "Unsupported or invalid query filter clause specified."
            )
    return conditions


def _conjuncts(tree):
    if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And):
        return [*_conjuncts(tree.left), *_conjuncts(tree.right)]
    return [tree]


def equals(field: str, kinds: tuple):
    """``field eq <literal>`` (one of ``kinds``): the literal's value."""

    def recognise(tree):
        if (
            isinstance(tree, ast.Compare)
            and isinstance(tree.comparator, ast.Eq)
            and isinstance(tree.left, ast.Identifier)
            and tree.left.name == field
            and not tree.left.namespace
            and isinstance(tree.right, kinds)
        ):
            return tree.right.val
        return None

    return recognise


def compares(field: str, comparators: tuple, kinds: tuple):
    """``field <comparator> <literal>`` (one of ``comparators``, one of ``kinds``): the
    literal itself."""

    def recognise(tree):
        if (
            isinstance(tree, ast.Compare)
            and isinstance(tree.comparator, comparators)
            and isinstance(tree.left, ast.Identifier)
            and tree.left.name == field
            and not tree.left.namespace
            and isinstance(tree.right, kinds)
        ):
            return tree.right
        return None

    return recognise


def starts_with(field: str):
    """``startsWith(field,'text')``: the text."""

    def recognise(tree):
        if (
            isinstance(tree, ast.Call)
            and tree.func.name == "startswith"
            and len(tree.args) == 2
            and isinstance(tree.args[0], ast.Identifier)
            and tree.args[0].name == field
            and not tree.args[0].namespace
            and isinstance(tree.args[1], ast.String)
        ):
            return tree.args[1].val
        return None

    return recognise


# -- advanced queries: $count, $search, $orderby ---------------------------------------------


def eventual(request: HttpRequest) -> bool:
    """Whether the request asks for Graph's advanced queries (``ConsistencyLevel: eventual``)."""
    return request.headers.get("ConsistencyLevel", "").strip().lower() == "eventual"


COUNT_UNSUPPORTED = "$count is not currently supported."


def count_wanted(request: HttpRequest) -> bool:
    """``$count=true`` (an ``@odata.count`` on the page): only with ``ConsistencyLevel:
    eventual``, as Graph."""
    raw = request.GET.get("$count")
    if raw is None or raw.lower() == "false":
        return False
    if raw.lower() != "true":
        raise bad_request(f"Invalid value '{raw[:20]}' for the query option '$count'.")
    if not eventual(request):
        raise bad_request(COUNT_UNSUPPORTED)
    return True


_SEARCH = re.compile(r'"([A-Za-z]+):([^"]*)"')


def search(request: HttpRequest, fields: dict[str, str]) -> list[tuple[str, str]]:
    """``$search="displayName:text"``: (column, text) for the selectors, which match the
    text at the start of a word. Graph's syntax: the clause in double quotes, a property of
    ``fields`` (its name → the column searched); only with ``ConsistencyLevel: eventual``."""
    raw = request.GET.get("$search")
    if raw is None:
        return []
    if not eventual(request):
        raise GraphError(
            400,
            UNSUPPORTED_QUERY,
            "Request with $search query parameter only works through MSGraph with a special "
            "request header: 'ConsistencyLevel: eventual'",
        )
    clause = _SEARCH.fullmatch(raw.strip())
    if clause is None:
        shown = raw[:80]
        position = next((i for i, c in enumerate(shown) if c == ":" or c == '"'), 0)
        raise bad_request(
            f"Syntax error: character '{shown[position : position + 1] or ' '}' is not valid at "
            f"position {position} in '{shown}'."
        )
    name, text = clause.groups()
    if name not in fields:
        raise bad_request(f"Invalid search property '{name[:40]}'.")
    if not text.strip():
        raise bad_request(f"Invalid search clause: '{raw[:80]}'.")
    return [(fields[name], text.strip())]


def by_name(request: HttpRequest) -> bool:
    """``$orderby=displayName`` (or ``displayName asc``): True; absent: False (creation
    order); another order is Graph's 400."""
    raw = request.GET.get("$orderby")
    if raw is None:
        return False
    if re.fullmatch(r"\s*displayName(\s+asc)?\s*", raw):
        return True
    raise GraphError(
        400, UNSUPPORTED_QUERY, f"Unsupported sort property or direction: '{raw[:80]}'."
    )


def any_sku(tree):
    """``assignedLicenses/any(x:x/skuId eq <GUID>)``: the GUID."""
    if (
        isinstance(tree, ast.CollectionLambda)
        and isinstance(tree.owner, ast.Identifier)
        and tree.owner.name == "assignedLicenses"
        and isinstance(tree.operator, ast.Any)
        and tree.lambda_ is not None
    ):
        inner = tree.lambda_.expression
        var = tree.lambda_.identifier.name
        if (
            isinstance(inner, ast.Compare)
            and isinstance(inner.comparator, ast.Eq)
            and isinstance(inner.left, ast.Attribute)
            and isinstance(inner.left.owner, ast.Identifier)
            and inner.left.owner.name == var
            and inner.left.attr == "skuId"
            and isinstance(inner.right, ast.GUID)
        ):
            return uuid.UUID(inner.right.val)
    return None


def license_count(tree):
    """``assignedLicenses/$count ne 0`` (True) or ``eq 0`` (False)."""
    if (
        isinstance(tree, ast.Compare)
        and isinstance(tree.comparator, ast.Eq | ast.NotEq)
        and isinstance(tree.left, ast.Attribute)
        and isinstance(tree.left.owner, ast.Identifier)
        and tree.left.owner.name == "assignedLicenses"
        and tree.left.attr == "count__"
        and isinstance(tree.right, ast.Integer)
        and int(tree.right.val) == 0
    ):
        return isinstance(tree.comparator, ast.NotEq)
    return None


def skip_after(request: HttpRequest):
    """The position a ``$skiptoken`` carries, or None on the first page."""
    raw = request.GET.get("$skiptoken")
    if raw is None:
        return None
    position = _open(request, raw)
    if position is None:
        raise bad_request("The $skiptoken is not valid. Start again from the first page.")
    return position


# The skip token is opaque: the position (a row id, global to the database, which would tell
# how many users all tenants have) is encrypted with a keystream of HMAC-SHA256 over a random
# nonce, so equal positions never give equal tokens, and authenticated for the tenant and the
# listing it was issued for. No dependency beyond hashlib: it is 8 bytes.
_NONCE, _TAG = 12, 16


def _keys() -> tuple[bytes, bytes]:
    root = settings.SECRET_KEY.encode()
    return (
        hmac.new(root, b"graph-skiptoken-mask", hashlib.sha256).digest(),
        hmac.new(root, b"graph-skiptoken-tag", hashlib.sha256).digest(),
    )


def _scope(request: HttpRequest) -> bytes:
    return f"{request.tenant.public_id}|{request.path}".encode()


def _seal(request: HttpRequest, position: int) -> str:
    mask_key, tag_key = _keys()
    nonce = secrets.token_bytes(_NONCE)
    mask = hmac.new(mask_key, nonce, hashlib.sha256).digest()[:8]
    body = nonce + bytes(a ^ b for a, b in zip(position.to_bytes(8, "big"), mask, strict=True))
    tag = hmac.new(tag_key, _scope(request) + body, hashlib.sha256).digest()[:_TAG]
    return base64.urlsafe_b64encode(body + tag).rstrip(b"=").decode()


def _open(request: HttpRequest, token: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return None
    if len(raw) != _NONCE + 8 + _TAG:
        return None
    body, tag = raw[:-_TAG], raw[-_TAG:]
    mask_key, tag_key = _keys()
    expected = hmac.new(tag_key, _scope(request) + body, hashlib.sha256).digest()[:_TAG]
    if not hmac.compare_digest(tag, expected):
        return None
    mask = hmac.new(mask_key, body[:_NONCE], hashlib.sha256).digest()[:8]
    return int.from_bytes(bytes(a ^ b for a, b in zip(body[_NONCE:], mask, strict=True)), "big")


def position(request: HttpRequest) -> tuple[int | None, int]:
    """Where the page starts (after the row the ``$skiptoken`` carries; None on the first
    page) and its size (``$top``): what the selectors' keyset pages take."""
    return skip_after(request), top(request)


def keyset_page(
    request: HttpRequest, found: list, size: int, render, count: int | None = None
) -> dict:
    """The page of ``found`` (a selector's keyset page after ``position``: rows in
    primary-key order, model instances or dicts with ``id``, one more than ``size`` when
    there is a next page), as ``render`` shapes them: keyset paging, so a walk sees every
    row that existed when it started once."""
    position = None
    if len(found) > size:
        found = found[:size]
        last = found[-1]
        position = last["id"] if isinstance(last, dict) else last.pk
    return page(request, render(found), position, count)


def page(request: HttpRequest, items: list, position, count: int | None = None) -> dict:
    """The collection's page; ``position`` is where the next page starts, or None;
    ``count``: how many items the whole collection holds (``$count=true``), or None."""
    body = {"@odata.context": context(request)}
    if count is not None:
        body["@odata.count"] = count
    body["value"] = items
    if position is not None:
        query = QueryDict(mutable=True)
        for name, values in request.GET.lists():
            if name != "$skiptoken":
                query.setlist(name, values)
        query["$skiptoken"] = _seal(request, int(position))
        body["@odata.nextLink"] = request.build_absolute_uri(
            f"{request.path}?{query.urlencode(safe='$,/')}"
        )
    return body


def written_page(
    request: HttpRequest, items: str, position, count: int | None = None
) -> HttpResponse:
    """The collection's page (as ``page``) whose items the database wrote as JSON text
    (comma-separated, one per item), embedded as they are."""
    envelope = page(request, [], position, count)
    del envelope["value"]
    head = json.dumps(envelope, cls=DjangoJSONEncoder)
    return HttpResponse(f'{head[:-1]}, "value": [{items}]}}', content_type="application/json")


def context(request: HttpRequest, *, entity: bool = False) -> str:
    """``@odata.context`` as Graph writes it: the metadata URL, the resource path (for one
    entity, its collection) and the ``$select`` shape."""
    path = request.path.removeprefix(PREFIX)
    if entity:
        path = path.split("/")[0]
    select = request.GET.get("$select")
    shape = f"({select})" if select else ""
    return request.build_absolute_uri(
        f"{PREFIX}$metadata#{path}{shape}{'/$entity' if entity else ''}"
    )
