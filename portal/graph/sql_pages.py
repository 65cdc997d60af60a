"""A page of ``GET /users`` written by PostgreSQL as JSON text.

Walking a directory of 100,000 users in pages of 999 is what scripts do most; shaping 999
users in Python (a dict per user, a list of licenses, then ``json.dumps``) cost more than the
query. On PostgreSQL, for the properties below, one query reads the page's ids (keyset
paging, as :func:`portal.graph.odata.keyset_page`) and a second one returns the ``value``
array's items as JSON text, concatenated (cheaper than building ``json`` values and printing
them), which the response embeds as it is. Same content as :func:`portal.graph.shapes.users`
(tested property by property against it); other properties, and SQLite, take that path.
"""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from licensing.models import SEAT_STATES
from portal.graph import odata

_SEATS = ", ".join(f"'{state}'" for state in SEAT_STATES)

# Per (user, product) of the page: how many paths hold a seat, and whether any has a plan off.
HELD = f"""
    SELECT l.user_id, l.product_id, count(*) AS paths,
           bool_or(l.disabled_plans <> '[]'::jsonb) AS any_off
    FROM licensing_userlicense l
    WHERE l.user_id BETWEEN %(low)s AND %(high)s AND l.state IN ({_SEATS})
    GROUP BY l.user_id, l.product_id"""
# A plan is off only where every path of the product has it off; in code-point order.
DISABLED_PLANS = f"""CASE WHEN h.any_off THEN (
      SELECT coalesce(json_agg(o.plan ORDER BY o.plan COLLATE "C"), '[]'::json)::text FROM (
        SELECT x.plan FROM licensing_userlicense l2
        CROSS JOIN LATERAL jsonb_array_elements_text(l2.disabled_plans) AS x(plan)
        WHERE l2.user_id = u.id AND l2.product_id = h.product_id AND l2.state IN ({_SEATS})
        GROUP BY x.plan HAVING count(*) = h.paths) o)
    ELSE '[]' END"""
# assignedLicenses as shapes._licensing writes it: one entry per product the user holds a
# seat of (several paths of one product are one entry), in product order.
ASSIGNED_LICENSES = f"""'[' || coalesce(string_agg(
      '{{"disabledPlans":' || {DISABLED_PLANS} || ',"skuId":"' || p.sku_id::text || '"}}',
      ',' ORDER BY h.product_id), '') || ']'"""


def _string(column: str) -> str:
    """A text column as a JSON string; empty is null, as the shapes write it."""
    return f"coalesce(to_json(nullif({column}, ''))::text, 'null')"


# Each property the page can write: SQL over ``u`` (licensing_directoryuser) giving its JSON.
PROPERTIES = {
    "id": "'\"' || u.public_id::text || '\"'",
    "displayName": "to_json(u.display_name)::text",
    "userPrincipalName": "to_json(u.user_principal_name)::text",
    "usageLocation": _string("u.usage_location"),
    "accountEnabled": "CASE WHEN u.account_enabled THEN 'true' ELSE 'false' END",
    "department": _string("u.department"),
    "jobTitle": _string("u.job_title"),
    "onPremisesImmutableId": _string("u.on_premises_immutable_id"),
    "businessPhones": "'[]'",
    "givenName": "'null'",
    "surname": "'null'",
    "mail": "'null'",
    "mobilePhone": "'null'",
    "officeLocation": "'null'",
    "preferredLanguage": "'null'",
    "assignedLicenses": ASSIGNED_LICENSES,
}
LICENSING = {"assignedLicenses"}


def can_write(fields: list[str]) -> bool:
    return connection.vendor == "postgresql" and all(f in PROPERTIES for f in fields)


def users_page(request: HttpRequest, people: QuerySet, fields: list[str]) -> HttpResponse:
    """The page of ``people`` the ``$skiptoken`` points at, as the response: the same keyset
    paging as :func:`portal.graph.odata.keyset_page`, the same properties in the same order
    as :func:`portal.graph.shapes.users` (plain ones first, then the licensing ones)."""
    people, size = odata.keyset_rows(request, people)
    # Plain ids from the cursor: a thousand through the ORM's iterator cost a millisecond.
    sql, params = people.values_list("id")[: size + 1].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    shown = ids[:size]
    value = _items(shown, fields) if shown else ""
    body = odata.page(request, [], shown[-1] if len(ids) > size else None)
    del body["value"]
    head = json.dumps(body, cls=DjangoJSONEncoder)
    return HttpResponse(f'{head[:-1]}, "value": [{value}]}}', content_type="application/json")


def _items(shown: list[int], fields: list[str]) -> str:
    """The users ``shown`` (ids in ascending order) as JSON objects, comma-separated."""
    ordered = [f for f in fields if f not in LICENSING] + [f for f in fields if f in LICENSING]
    # Property names are ours (PROPERTIES' keys), so they can be written into the SQL.
    item = " || ',' || ".join(f"'{json.dumps(name)}:' || {PROPERTIES[name]}" for name in ordered)
    joins = ""
    if LICENSING.intersection(fields):
        joins = f"""LEFT JOIN ({HELD}) h ON h.user_id = u.id
                  LEFT JOIN licensing_product p ON p.id = h.product_id"""
    sql = f"""
        SELECT string_agg(t.item, ',' ORDER BY t.id) FROM (
          SELECT u.id, '{{' || {item} || '}}' AS item
          FROM licensing_directoryuser u
          JOIN unnest(%(shown)s::bigint[]) AS shown(id) ON shown.id = u.id
          {joins}
          -- the page's id range, so that the users and rows are read by index, not scanned
          WHERE u.id BETWEEN %(low)s AND %(high)s
          GROUP BY u.id
        ) t
    """
    # The ids as one array literal: psycopg adapting 999 ints one by one costs a millisecond.
    literal = "{" + ",".join(map(str, shown)) + "}"
    with connection.cursor() as cursor:
        cursor.execute(sql, {"shown": literal, "low": shown[0], "high": shown[-1]})
        return cursor.fetchone()[0]
