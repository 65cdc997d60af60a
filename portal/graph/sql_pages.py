"""A page of ``GET /users`` written by PostgreSQL as JSON text, in one query.

Walking a directory of 100,000 users in pages of 999 is what scripts do most; shaping 999
users in Python (a dict per user, a list of licenses, then ``json.dumps``) cost more than the
query. On PostgreSQL, for the properties below, the page's ids, the users' properties and
their ``assignedLicenses`` come back as the ``value`` array's JSON text, which the response
embeds as it is. Same content as :func:`portal.graph.shapes.users` (tested property by
property against it); other properties, and SQLite, take that path.
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
    WHERE l.user_id BETWEEN (SELECT min(id) FROM shown) AND (SELECT max(id) FROM shown)
      AND l.state IN ({_SEATS})
    GROUP BY l.user_id, l.product_id"""
# assignedLicenses as shapes._licensing writes it: one entry per product the user holds a
# seat of (several paths of one product are one entry), in product order; a plan is off only
# where every path has it off; disabled plans in code-point order (COLLATE "C").
ASSIGNED_LICENSES = f"""coalesce(json_agg(json_build_object(
      'disabledPlans', CASE WHEN h.any_off THEN coalesce((
          SELECT json_agg(o.plan ORDER BY o.plan COLLATE "C") FROM (
            SELECT x.plan FROM licensing_userlicense l2
            CROSS JOIN LATERAL jsonb_array_elements_text(l2.disabled_plans) AS x(plan)
            WHERE l2.user_id = u.id AND l2.product_id = h.product_id
              AND l2.state IN ({_SEATS})
            GROUP BY x.plan HAVING count(*) = h.paths) o), '[]'::json)
        ELSE '[]'::json END,
      'skuId', p.sku_id::text) ORDER BY h.product_id) FILTER (WHERE h.product_id IS NOT NULL),
    '[]'::json)"""

# Each property the page can write: its SQL over ``u`` (licensing_directoryuser).
PROPERTIES = {
    "id": "u.public_id::text",
    "displayName": "u.display_name",
    "userPrincipalName": "u.user_principal_name",
    "usageLocation": "nullif(u.usage_location, '')",
    "accountEnabled": "u.account_enabled",
    "department": "nullif(u.department, '')",
    "jobTitle": "nullif(u.job_title, '')",
    "onPremisesImmutableId": "nullif(u.on_premises_immutable_id, '')",
    "businessPhones": "'[]'::json",
    "givenName": "NULL::text",
    "surname": "NULL::text",
    "mail": "NULL::text",
    "mobilePhone": "NULL::text",
    "officeLocation": "NULL::text",
    "preferredLanguage": "NULL::text",
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
    ids_sql, ids_params = people.values("id")[: size + 1].query.sql_with_params()
    ordered = [f for f in fields if f not in LICENSING] + [f for f in fields if f in LICENSING]
    pairs = ", ".join(f"'{name}', {PROPERTIES[name]}" for name in ordered)
    joins = ""
    if LICENSING.intersection(fields):
        joins = f"""LEFT JOIN ({HELD}) h ON h.user_id = u.id
                  LEFT JOIN licensing_product p ON p.id = h.product_id"""
    sql = f"""
        WITH page AS ({ids_sql}),
             shown AS (SELECT id FROM page ORDER BY id LIMIT %s)
        SELECT (SELECT count(*) FROM page), (SELECT max(id) FROM shown),
               (SELECT coalesce(json_agg(t.item ORDER BY t.id), '[]'::json)::text FROM (
                  SELECT u.id, json_build_object({pairs}) AS item
                  FROM licensing_directoryuser u
                  JOIN shown ON shown.id = u.id
                  {joins}
                  -- the page's id range, so that the users are read by index, not scanned
                  WHERE u.id BETWEEN (SELECT min(id) FROM shown) AND (SELECT max(id) FROM shown)
                  GROUP BY u.id
                 ) t)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids_params, size])
        found, last, value = cursor.fetchone()
    body = odata.page(request, [], last if found > size else None)
    del body["value"]
    head = json.dumps(body, cls=DjangoJSONEncoder)
    return HttpResponse(f'{head[:-1]}, "value": {value}}}', content_type="application/json")
