"""A PATCH (RFC 7644 §3.5.2): its operations, what they set on a user, and what they change of
a group: its name and id, and its members, as the net effect of the member operations in their
order."""

from __future__ import annotations

import re
import uuid

from licensing.models import DirectoryUser
from portal.scim.protocol import ScimError
from portal.scim.resources import member_ids

# Operations in one PATCH (docs/provisioning.md, "Limits"): Entra ID and Okta send a few per
# request; each member operation may name many members.
MAX_PATCH_OPERATIONS = 100
_MEMBER_PATH = re.compile(r'members\[value eq "([^"]+)"\]', re.IGNORECASE)


def operations(data: dict) -> list[tuple[str, str, object]]:
    """(op, path, value) of each operation of a PATCH's body, ``op`` lowercased."""
    found = data.get("Operations")
    if not isinstance(found, list) or not found:
        raise ScimError(400, "A PATCH needs Operations.", "invalidSyntax")
    if len(found) > MAX_PATCH_OPERATIONS:
        # RFC 7644 caps only bulk requests (maxOperations); a PATCH is one transaction, so
        # ours is capped too (docs/provisioning.md), as invalidValue (§3.12: for PATCH).
        raise ScimError(
            400,
            f"A PATCH has at most {MAX_PATCH_OPERATIONS} operations; this one has "
            f"{len(found)}. Send the rest in another request.",
            "invalidValue",
        )
    parsed = []
    for operation in found:
        if not isinstance(operation, dict):
            raise ScimError(400, "Each operation must be an object.", "invalidSyntax")
        op = str(operation.get("op", "")).lower()
        if op not in ("add", "replace", "remove"):
            raise ScimError(
                400, f"{operation.get('op')!r} is not a PATCH operation.", "invalidSyntax"
            )
        parsed.append((op, str(operation.get("path") or ""), operation.get("value")))
    return parsed


def user_values(ops: list[tuple[str, str, object]]) -> dict:
    """The attributes a user's PATCH sets (``resources.user_changes`` reads them); a removed
    one becomes empty."""
    values: dict = {}
    for op, where, value in ops:
        if not where:
            if not isinstance(value, dict):
                raise ScimError(400, "An operation without a path needs an object.", "invalidValue")
            values.update(value)
        elif op == "remove":
            if where.lower() in ("active", "username"):
                raise ScimError(400, f"{where} is required and cannot be removed.", "mutability")
            values[where] = ""
        else:
            values[where] = value
    return values


# A member operation: (op, the user ids it names); ids None: every member (a ``remove`` of
# ``members`` without a value).
MemberOperation = tuple[str, list[uuid.UUID] | None]


def group_changes(ops: list[tuple[str, str, object]]) -> tuple[dict, list[MemberOperation]]:
    """What a group's PATCH changes: its fields (``name``, ``external_id``, as sent) and its
    member operations, in their order."""
    changes: dict = {}
    members: list[MemberOperation] = []
    for op, where, value in ops:
        target = where.lower()
        if not where and isinstance(value, dict):
            for k, v in value.items():
                if k.lower() == "displayname":
                    changes["name"] = v
                elif k.lower() == "externalid":
                    changes["external_id"] = v
                elif k.lower() == "members":
                    members.append(_member_operation(op, v))
        elif target in ("displayname", "externalid"):
            field = "name" if target == "displayname" else "external_id"
            changes[field] = "" if op == "remove" else value
        elif target == "members":
            members.append(_member_operation(op, value))
        elif match := _MEMBER_PATH.fullmatch(where.strip()):
            if op != "remove":
                raise ScimError(400, "Only remove takes a member filter path.", "invalidPath")
            members.append(("remove", member_ids([match.group(1)])))
        else:
            raise ScimError(400, f"{where[:60]!r} is not a path of a group.", "invalidPath")
    return changes, members


def _member_operation(op: str, value) -> MemberOperation:
    if op == "remove" and not value:
        return op, None
    return op, member_ids(value or [])


class MemberChanges:
    """The net effect of a PATCH's member operations, in their order, applied at the end as
    one removal and one addition: the seats are locked once, for the changes that need them,
    not once per operation for the rest of the request."""

    def __init__(self):
        self.replaced = False  # a replace (or remove of all) started from no members
        self.add: dict[int, DirectoryUser] = {}
        self.remove: dict[int, DirectoryUser] = {}

    def apply(self, op: str, users: list[DirectoryUser] | None) -> None:
        """``users=None``: every member (a ``remove`` of ``members`` without a value)."""
        if op == "replace" or users is None:
            self.replaced, self.add, self.remove = True, {}, {}
            users = users or []
            op = "add"
        for user in users:
            if op == "add":
                self.remove.pop(user.id, None)
                self.add[user.id] = user
            else:
                self.add.pop(user.id, None)
                self.remove[user.id] = user
