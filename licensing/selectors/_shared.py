"""What the selectors share: keyset paging, counted pages of matching rows, and a value as the database stores it in a column
(for the plain statements some selectors write)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Model, Q, QuerySet, Subquery


def keyset(rows: QuerySet, *, after: int | None) -> QuerySet:
    """``rows`` after the row whose primary key is ``after`` (None: from the first), in
    primary-key order: a walk sees every row that existed when it started once. The caller
    slices one row more than its page, which tells whether there is a next page."""
    if after is not None:
        rows = rows.filter(pk__gt=int(after))
    return rows.order_by("pk")


def keyset_by(rows: QuerySet, *, after: int | None, field: str, descending: bool = False):
    """``rows`` in the order of ``field`` then primary key (both descending when asked), after
    the row whose primary key is ``after``: keyset paging (as ``keyset``) in another order.
    The position stays one primary key; the row's ``field`` is read by the query itself."""
    if after is not None:
        after = int(after)
        value = Subquery(rows.model.objects.filter(pk=after).values(field)[:1])
        beyond, key = ("lt", "pk__lt") if descending else ("gt", "pk__gt")
        rows = rows.filter(Q(**{f"{field}__{beyond}": value}) | Q(**{field: value, key: after}))
    sign = "-" if descending else ""
    return rows.order_by(f"{sign}{field}", f"{sign}pk")


def word_start(column: str, text: str, separators: str = " ") -> Q:
    """``column`` has a word starting with ``text`` (any case), words being separated by
    ``separators``: Graph's ``$search`` on a property."""
    found = Q(**{f"{column}__istartswith": text})
    for separator in separators:
        found |= Q(**{f"{column}__icontains": separator + text})
    return found


def column_value(model: type[Model], field: str, value):
    """``value`` as the database stores it in this column (a UUID is text on SQLite)."""
    return model._meta.get_field(field).get_db_prep_value(value, connection)


def counted_page(
    rows: QuerySet, *, matching: Mapping[str, str], fields: Sequence[str], offset: int, limit: int
) -> tuple[int, list]:
    """How many of ``rows`` match, and ``limit`` of them from ``offset`` in the order they were
    made (two queries; none when an id is not a UUID). ``matching``: field → value, each equal
    ignoring case (``public_id`` exactly); a field not among ``fields`` is a ValueError."""
    for field, value in matching.items():
        if field not in fields:
            raise ValueError(f"{rows.model.__name__} rows are not matched on {field}.")
        if field == "public_id":
            try:
                rows = rows.filter(public_id=uuid.UUID(value))
            except ValueError:
                rows = rows.none()
        else:
            rows = rows.filter(**{f"{field}__iexact": value})
    return rows.count(), list(rows.order_by("id")[offset : offset + limit])


PER_PAGE = 50


def page_of(rows: QuerySet, number, *, per_page: int = PER_PAGE) -> Page:
    """Page ``number`` of ``rows`` (the last for a number past it, the first for one that is
    not a number), read now: its count and its rows, two queries."""
    page = Paginator(rows, per_page).get_page(number)
    page.object_list = list(page.object_list)
    return page


@dataclass
class Window:
    """One page of a list whose length is not counted: counting 100,000 licensed users on
    every page view costs more than the page. The page knows whether there is a next one."""

    object_list: list
    number: int
    per_page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1

    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.object_list else 0

    def end_index(self) -> int:
        return (self.number - 1) * self.per_page + len(self.object_list)


def page_number(value) -> int:
    """A page number from the request: a whole number from 1, else 1."""
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


def window_of(rows: QuerySet, number, *, per_page: int = PER_PAGE) -> Window:
    """Page ``number`` of ``rows`` without counting them (one query: the page and one row
    more, which says whether there is a next page). For lists that grow with the tenant
    (users, a group's members, the audit log), where a count would read them all."""
    number = page_number(number)
    offset = (number - 1) * per_page
    found = list(rows[offset : offset + per_page + 1])
    return Window(found[:per_page], number, per_page, has_next=len(found) > per_page)
