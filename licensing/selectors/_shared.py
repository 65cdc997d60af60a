"""What the selectors share: keyset paging, and a value as the database stores it in a column
(for the plain statements some selectors write)."""

from __future__ import annotations

from django.db import connection
from django.db.models import Model, QuerySet


def keyset(rows: QuerySet, *, after: int | None) -> QuerySet:
    """``rows`` after the row whose primary key is ``after`` (None: from the first), in
    primary-key order: a walk sees every row that existed when it started once. The caller
    slices one row more than its page, which tells whether there is a next page."""
    if after is not None:
        rows = rows.filter(pk__gt=int(after))
    return rows.order_by("pk")


def column_value(model: type[Model], field: str, value):
    """``value`` as the database stores it in this column (a UUID is text on SQLite)."""
    return model._meta.get_field(field).get_db_prep_value(value, connection)
