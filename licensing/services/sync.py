"""Directory synchronization import (docs/rules.md §7, as an operator runs it).

A directory export (CSV, UTF-8 with or without BOM) lists the users in the synchronization
scope. Users in the file are created or updated as ``synced``; synced users of the tenant
missing from it have left the scope and are soft-deleted (their licenses become Suspended and
keep their seats); a soft-deleted synced user who reappears is restored. Cloud users are never
touched. The whole import is one transaction, and a malformed file changes nothing: every
problem is reported with its line.

Used by ``manage.py sync_directory`` and by the portal's upload page: the same code.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from licensing import audit, services
from licensing.errors import InvalidInput, LicensingError
from licensing.locking import service
from licensing.models import DirectoryUser, Tenant, UserSource
from licensing.services.base import parse_country
from licensing.services.directory import hidden_characters

REQUIRED = ("userPrincipalName", "displayName", "usageLocation", "accountEnabled")
OPTIONAL = ("department", "jobTitle", "onPremisesImmutableId")
# Column → DirectoryUser field for the profile fields the import keeps up to date.
PROFILE = {
    "displayName": "display_name",
    "accountEnabled": "account_enabled",
    "department": "department",
    "jobTitle": "job_title",
    "onPremisesImmutableId": "on_premises_immutable_id",
}
UPN = re.compile(r"^[A-Za-z0-9._%+'\-]{1,64}@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$")
BOOLEANS = {"true": True, "false": False, "1": True, "0": False}
MAX_PROBLEMS = 50
# Bounds on what one file may cost: lines read (the command takes big exports; the upload
# page also caps the bytes), and characters in one line.
MAX_LINES = 1_000_000
MAX_LINE_CHARS = 4096


class SyncFileError(LicensingError):
    """A malformed export: nothing was changed. ``problems`` lists (line, message)."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        lines = [_("line %(line)d: %(problem)s") % {"line": n, "problem": p} for n, p in problems]
        super().__init__(_("The file was not imported; nothing changed.") + "\n" + "\n".join(lines))


@dataclass(frozen=True)
class ExportRow:
    line: int
    user_principal_name: str
    usage_location: str
    profile: dict  # DirectoryUser field -> value


@dataclass
class SyncPlan:
    create: list[ExportRow] = field(default_factory=list)
    # (user, changed field → new value); a restored user may change too.
    update: list[tuple[DirectoryUser, dict]] = field(default_factory=list)
    restore: list[tuple[DirectoryUser, dict]] = field(default_factory=list)
    soft_delete: list[DirectoryUser] = field(default_factory=list)
    unchanged: int = 0

    def summary(self) -> dict[str, int]:
        return {
            "created": len(self.create),
            "updated": len(self.update),
            "soft-deleted": len(self.soft_delete),
            "restored": len(self.restore),
            "unchanged": self.unchanged,
        }

    def describe(self) -> list[str]:
        """One line per change, for the dry run and the preview."""
        lines = [f"create {row.user_principal_name}" for row in self.create]
        for user, changes in self.update:
            lines.append(f"update {user.user_principal_name}: {_changes(user, changes)}")
        for user, changes in self.restore:
            detail = f" ({_changes(user, changes)})" if changes else ""
            lines.append(f"restore {user.user_principal_name}{detail}")
        lines.extend(f"soft-delete {user.user_principal_name}" for user in self.soft_delete)
        return lines


def _changes(user: DirectoryUser, changes: dict) -> str:
    return ", ".join(f"{f}: {getattr(user, f)!s} → {v!s}" for f, v in changes.items())


def parse_export(data: bytes) -> list[ExportRow]:
    """Read and check the whole file; raise SyncFileError naming every problem by line."""
    problems: list[tuple[int, str]] = []
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise SyncFileError([(line, _("the file contains a NUL byte"))])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SyncFileError([(line, _("the file is not UTF-8"))]) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise SyncFileError([(1, _("the file is empty; it needs a header line"))])
        columns = _columns(header)
        rows: list[ExportRow] = []
        seen: dict[str, int] = {}
        for values in reader:
            line = reader.line_num
            if len(problems) >= MAX_PROBLEMS:
                del problems[MAX_PROBLEMS:]
                problems.append(
                    (line, _("stopped reading after %(n)d problems") % {"n": MAX_PROBLEMS})
                )
                break
            if line > MAX_LINES:
                problems.append((line, _("the file has more than %(n)d lines") % {"n": MAX_LINES}))
                break
            if sum(len(v) for v in values) > MAX_LINE_CHARS:
                problems.append(
                    (line, _("the line is longer than %(n)d characters") % {"n": MAX_LINE_CHARS})
                )
                continue
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                problems.append(
                    (
                        line,
                        _("expected %(n)d fields, found %(m)d")
                        % {"n": len(header), "m": len(values)},
                    )
                )
                continue
            record = {name: values[i].strip() for name, i in columns.items()}
            row = _row(line, record, problems)
            if row is None:
                continue
            key = row.user_principal_name.lower()
            if key in seen:
                problems.append(
                    (
                        line,
                        _("%(upn)s is also on line %(other)d")
                        % {"upn": row.user_principal_name, "other": seen[key]},
                    )
                )
                continue
            seen[key] = line
            rows.append(row)
    except csv.Error as error:
        problems.append((reader.line_num, _("not valid CSV (%(error)s)") % {"error": error}))
    if problems:
        raise SyncFileError(problems[: MAX_PROBLEMS + 1])
    return rows


def _columns(header: list[str]) -> dict[str, int]:
    known = {name.lower(): name for name in (*REQUIRED, *OPTIONAL)}
    columns: dict[str, int] = {}
    unknown = []
    for i, raw in enumerate(header):
        name = known.get(raw.strip().lower())
        if name is None:
            unknown.append(raw.strip())
        elif name in columns:
            raise SyncFileError([(1, _("column %(name)s appears twice") % {"name": name})])
        else:
            columns[name] = i
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise SyncFileError(
            [(1, _("missing required column: %(names)s") % {"names": ", ".join(missing)})]
        )
    if unknown:
        raise SyncFileError([(1, _("unknown column: %(names)s") % {"names": ", ".join(unknown)})])
    return columns


def _row(line: int, record: dict[str, str], problems: list) -> ExportRow | None:
    upn = record["userPrincipalName"]
    before = len(problems)
    # The directory's rule for names (licensing.services.directory), as SCIM and the admin
    # apply it; here each refused column is named with its line.
    spoofed = sorted(name for name, value in record.items() if hidden_characters(value))
    if spoofed:
        problems.append(
            (
                line,
                _("%(columns)s contains invisible or direction-changing characters")
                % {"columns": ", ".join(spoofed)},
            )
        )
        return None
    if not UPN.match(upn) or len(upn) > 113:
        problems.append((line, _("“%(upn)s” is not a valid user principal name") % {"upn": upn}))
    if not record["displayName"]:
        problems.append((line, _("displayName is empty")))
    try:
        location = parse_country(record["usageLocation"])
    except InvalidInput:
        problems.append(
            (line, _("“%(code)s” is not a known country code") % {"code": record["usageLocation"]})
        )
        location = ""
    enabled = BOOLEANS.get(record["accountEnabled"].lower())
    if enabled is None:
        problems.append(
            (
                line,
                _("accountEnabled must be true or false, not “%(v)s”")
                % {"v": record["accountEnabled"]},
            )
        )
    if len(problems) > before:
        return None
    profile = {PROFILE[name]: record[name] for name in PROFILE if name in record}
    profile["account_enabled"] = enabled
    return ExportRow(line=line, user_principal_name=upn, usage_location=location, profile=profile)


def plan_sync(tenant: Tenant, rows: list[ExportRow] | None) -> SyncPlan:
    """What the import would change. ``rows=None`` means synchronization was removed: every
    synced user leaves the scope."""
    plan = SyncPlan()
    users = {u.user_principal_name.lower(): u for u in DirectoryUser.objects.filter(tenant=tenant)}
    in_file: set[str] = set()
    problems = []
    for row in rows or []:
        key = row.user_principal_name.lower()
        in_file.add(key)
        user = users.get(key)
        if user is None:
            plan.create.append(row)
            continue
        if user.source != UserSource.SYNCED:
            problems.append(
                (
                    row.line,
                    _("%(upn)s is a cloud user; the import never changes cloud users")
                    % {"upn": user.user_principal_name},
                )
            )
            continue
        changes = {f: v for f, v in row.profile.items() if getattr(user, f) != v}
        if str(user.usage_location or "") != row.usage_location:
            changes["usage_location"] = row.usage_location
        if user.is_soft_deleted:
            plan.restore.append((user, changes))
        elif changes:
            plan.update.append((user, changes))
        else:
            plan.unchanged += 1
    if problems:
        raise SyncFileError(problems[:MAX_PROBLEMS])
    for key, user in sorted(users.items()):
        if user.source == UserSource.SYNCED and not user.is_soft_deleted and key not in in_file:
            plan.soft_delete.append(user)
    return plan


@dataclass
class SyncResult:
    plan: SyncPlan
    applied: bool


@service
def sync_directory(
    *, tenant: Tenant, data: bytes | None, actor, dry_run: bool = False, remove_sync: bool = False
) -> SyncResult:
    """Parse, plan and (unless ``dry_run``) apply an export: one service, so one transaction,
    retried whole when PostgreSQL breaks a deadlock."""
    rows = None if remove_sync else parse_export(data or b"")
    plan = plan_sync(tenant, rows)
    if dry_run:
        return SyncResult(plan, applied=False)
    reason = (
        _("Synchronization was removed") if remove_sync else _("Left the synchronization scope")
    )
    for row in plan.create:
        services.user_create(
            tenant=tenant,
            user_principal_name=row.user_principal_name,
            display_name=row.profile["display_name"],
            usage_location=row.usage_location,
            source=UserSource.SYNCED,
            account_enabled=row.profile["account_enabled"],
            department=row.profile.get("department", ""),
            job_title=row.profile.get("job_title", ""),
            on_premises_immutable_id=row.profile.get("on_premises_immutable_id", ""),
            actor=actor,
        )
    for user, _changes in plan.restore:
        services.user_restore(tenant=tenant, user=user, actor=actor)
    for user, changes in [*plan.update, *plan.restore]:
        _apply_changes(tenant, user, dict(changes), actor)
    for user in plan.soft_delete:
        services.user_soft_delete(tenant=tenant, user=user, actor=actor, reason=reason)
    audit.event(
        tenant=tenant,
        actor=actor,
        activity="Directory synchronization",
        target=tenant,
        target_type="Tenant",
        details={**plan.summary(), "remove_sync": remove_sync},
    )
    return SyncResult(plan, applied=True)


def _apply_changes(tenant: Tenant, user: DirectoryUser, changes: dict, actor) -> None:
    location = changes.pop("usage_location", None)
    if changes:
        services.user_update_profile(tenant=tenant, user=user, actor=actor, **changes)
    if location is not None:
        services.user_set_usage_location(
            tenant=tenant, user=user, usage_location=location, actor=actor
        )
