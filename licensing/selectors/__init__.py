"""The read layer: every read that the portal's pages, the Graph-compatible API and SCIM make.

Writes go through ``licensing.services``; reads come from here. A selector is a function
named by what it returns, in a module named by what it reads: ``users``, ``groups``,
``products``, ``licenses`` (a user's licenses as the API shows them), ``seats``, ``audit``,
``credentials`` (app registrations, provisioning tokens), ``tenants``, ``accounts``;
``_shared`` holds what they share (keyset paging). Every selector:

- takes its arguments by keyword, and the tenant is one of them wherever the data belongs to
  a tenant, so a read cannot forget whose data it is;
- reads only: no selector writes a row, takes a lock or records an audit event;
- has its number of queries pinned by a test (``tests/selectors``).

Where PostgreSQL writes a page in SQL for speed (``products.products_with_seats``,
``products.licensed_users_page``, the API's JSON pages), the selector owns
both forms, the SQL and the ORM one that SQLite runs, and its test pins them together.
"""

from __future__ import annotations

from licensing.selectors import (
    accounts,
    audit,
    credentials,
    groups,
    licenses,
    products,
    seats,
    tenants,
    users,
)

__all__ = [
    "accounts",
    "audit",
    "credentials",
    "groups",
    "licenses",
    "products",
    "seats",
    "tenants",
    "users",
]
