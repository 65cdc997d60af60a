"""A list's query: the filter (the forms identity providers send, ``attr eq "value"`` joined
by ``and``), ``startIndex`` and ``count``. The SCIM filter library pins a parser version that
the OData one cannot share (docs/provisioning.md), so the filter is parsed here."""

from __future__ import annotations

import json
import re
from typing import NamedTuple

from django.http import HttpRequest

from portal.scim.protocol import MAX_COUNT, ScimError, query_integer

# SCIM attribute (lowercased) → the field the selectors match (``users_page``,
# ``groups_counted_page``).
USER_FILTERS = {
    "username": "user_principal_name",
    "externalid": "external_id",
    "displayname": "display_name",
    "id": "public_id",
}
GROUP_FILTERS = {"displayname": "name", "externalid": "external_id", "id": "public_id"}

# Identity providers send ``attr eq "value"`` joined by ``and``; a filter longer than this
# is not one of theirs (Entra's longest, an externalId and a userName, is under 300).
MAX_FILTER_CHARS = 1000
_SPACE = re.compile(r"\s*")
_ATTRIBUTE = re.compile(r"[A-Za-z][\w:.$-]*")
_EQ = re.compile(r"\s+eq\s+", re.IGNORECASE)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
# One JSON string (RFC 7644 §3.4.2.2: compValue is a JSON literal): each character is either
# unescaped or one escape pair, so a match never backtracks over more than it read.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
# What no stored name contains: control characters (PostgreSQL cannot store NUL) and halves
# of a surrogate pair (not text; PostgreSQL refuses them too).
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class ListQuery(NamedTuple):
    matching: dict[str, str]  # field → value, as the selectors take it
    start: int  # startIndex: the first is 1
    limit: int  # count

    @property
    def offset(self) -> int:
        return self.start - 1


def list_query(request: HttpRequest, fields: dict[str, str]) -> ListQuery:
    """The filter, ``startIndex`` and ``count`` of a list request (``count`` at most
    ``MAX_COUNT``)."""
    text = request.GET.get("filter")
    matching = parse_filter(text, fields) if text else {}
    start = max(1, query_integer(request, "startIndex", 1))
    count = max(0, min(MAX_COUNT, query_integer(request, "count", MAX_COUNT)))
    return ListQuery(matching, start, count)


def search_query(
    request: HttpRequest, *kinds: dict[str, str]
) -> tuple[list[dict[str, str] | None], ListQuery]:
    """The query of a search over several resource types (RFC 7644 §3.4.3), each with the
    attributes it is filtered on (``USER_FILTERS``, ``GROUP_FILTERS``): the matching of each,
    None for a kind that has not every attribute the filter names (it matches none of them),
    and the paging of the whole. An attribute that none of them has is refused."""
    every = {attribute: attribute for fields in kinds for attribute in fields}
    query = list_query(request, every)
    return [
        {fields[a]: value for a, value in query.matching.items()}
        if all(a in fields for a in query.matching)
        else None
        for fields in kinds
    ], query


def _invalid_filter(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidFilter")


def parse_filter(text: str, fields: dict[str, str]) -> dict[str, str]:
    if len(text) > MAX_FILTER_CHARS:
        raise _invalid_filter(f"A filter has at most {MAX_FILTER_CHARS} characters.")
    return filter_conditions(text, fields)


def filter_conditions(text: str, fields: dict[str, str]) -> dict[str, str]:
    r"""``attr eq "value" [and attr eq "value" …]`` → {model field: value}.

    One pass from left to right: every step matches at the current position and moves past
    what it matched, so the time is linear in the length (a ``re.split`` on ``\s+and\s+``
    was quadratic: 50 KB of spaces took seconds). scim2-filter-parser would parse the whole
    grammar, but it pins ``sly==0.5``, which odata-query (the Graph API's ``$filter``) cannot
    share, and we would still refuse everything but ``eq`` and ``and``.
    """
    conditions: dict[str, str] = {}
    at = _SPACE.match(text).end()
    while True:
        name = _ATTRIBUTE.match(text, at)
        eq = name and _EQ.match(text, name.end())
        value = eq and _STRING.match(text, eq.end())
        if not value:
            raise _invalid_filter(
                'Only filters of the form attribute eq "value" (joined by and) are supported.'
            )
        attribute = name.group().lower()
        if attribute not in fields:
            raise _invalid_filter(f"Filtering on {name.group()[:60]} is not supported.")
        try:
            decoded = json.loads(value.group())
        except ValueError:
            raise _invalid_filter("The filter's value is not a valid JSON string.") from None
        if _NOT_TEXT.search(decoded):
            raise _invalid_filter("The filter's value contains a control character.")
        conditions[fields[attribute]] = decoded
        at = value.end()
        joined = _AND.match(text, at)
        if joined:
            at = joined.end()
            continue
        if _SPACE.match(text, at).end() != len(text):
            raise _invalid_filter(
                'Only filters of the form attribute eq "value" (joined by and) are supported.'
            )
        return conditions
