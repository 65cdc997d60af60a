"""Directory sync import (docs/rules.md §7)."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from licensing import services
from licensing.models import AuditEvent, DirectoryUser, UserLicense
from licensing.services.sync import SyncFileError, parse_export, sync_directory
from tests.factories import DirectoryUserFactory, product
from tests.helpers import seats
from tests.licensing.test_bad_input import snapshot

pytestmark = pytest.mark.django_db

HEADER = "userPrincipalName,displayName,usageLocation,accountEnabled\n"


def csv_bytes(*lines: str, header: str = HEADER) -> bytes:
    return (header + "".join(line + "\n" for line in lines)).encode()


@pytest.fixture
def synced(tenant, buy, actor):
    """Three synced users with licenses and one cloud user."""
    buy("AAD_PREMIUM", 10)
    people = [
        DirectoryUserFactory(
            tenant=tenant,
            user_principal_name=f"{n}@contoso.com",
            display_name=n.title(),
            source="synced",
            usage_location="NL",
        )
        for n in ("alice", "bob", "carol")
    ]
    cloud = DirectoryUserFactory(
        tenant=tenant, user_principal_name="cloud@contoso.com", source="cloud"
    )
    services.product_assign_to_users(
        tenant=tenant, product=product("AAD_PREMIUM"), users=[*people, cloud], actor=actor
    )
    return people, cloud


def test_users_in_the_file_are_created_updated_and_missing_synced_users_soft_deleted(
    tenant, synced
):
    result = sync_directory(
        tenant=tenant,
        data=csv_bytes(
            "alice@contoso.com,Alice,NL,true",
            "bob@contoso.com,Bobby,BE,true",
            "dave@contoso.com,Dave,,false",
        ),
        actor=None,
    )
    assert result.plan.summary() == {
        "created": 1,
        "updated": 1,
        "soft-deleted": 1,
        "restored": 0,
        "unchanged": 1,
    }
    dave = DirectoryUser.objects.get(user_principal_name="dave@contoso.com")
    assert (dave.source, dave.account_enabled, dave.display_name) == ("synced", False, "Dave")
    bob = DirectoryUser.objects.get(user_principal_name="bob@contoso.com")
    assert (bob.display_name, bob.usage_location) == ("Bobby", "BE")
    carol = DirectoryUser.objects.get(user_principal_name="carol@contoso.com")
    assert carol.is_soft_deleted
    assert AuditEvent.objects.get(activity="Directory synchronization").details["soft-deleted"] == 1


def test_soft_deleted_users_licenses_become_suspended_and_assigned_does_not_change(tenant, synced):
    before = seats(tenant, "AAD_PREMIUM")["assigned"]
    sync_directory(tenant=tenant, data=csv_bytes("alice@contoso.com,Alice,NL,true"), actor=None)
    assert seats(tenant, "AAD_PREMIUM")["assigned"] == before == 4
    states = dict(UserLicense.objects.values_list("user__user_principal_name", "state"))
    assert states == {
        "alice@contoso.com": "Active",
        "bob@contoso.com": "Suspended",
        "carol@contoso.com": "Suspended",
        "cloud@contoso.com": "Active",
    }


def test_a_soft_deleted_synced_user_who_reappears_is_restored(tenant, synced):
    sync_directory(tenant=tenant, data=csv_bytes("alice@contoso.com,Alice,NL,true"), actor=None)
    result = sync_directory(
        tenant=tenant,
        data=csv_bytes(
            "alice@contoso.com,Alice,NL,true",
            "bob@contoso.com,Bob,NL,true",
            "carol@contoso.com,Carol,NL,true",
        ),
        actor=None,
    )
    assert result.plan.summary()["restored"] == 2
    assert set(UserLicense.objects.values_list("state", flat=True)) == {"Active"}


def test_cloud_users_are_never_touched(tenant, synced):
    sync_directory(tenant=tenant, data=csv_bytes(), actor=None)
    assert not DirectoryUser.objects.get(user_principal_name="cloud@contoso.com").is_soft_deleted
    before = snapshot()
    with pytest.raises(SyncFileError, match=r"line 2: cloud@contoso\.com is a cloud user"):
        sync_directory(tenant=tenant, data=csv_bytes("cloud@contoso.com,Cloud,NL,true"), actor=None)
    assert snapshot() == before


def test_dry_run_describes_and_changes_nothing(tenant, synced):
    before = snapshot()
    result = sync_directory(
        tenant=tenant,
        data=csv_bytes("alice@contoso.com,Alice,DE,true", "erin@contoso.com,Erin,NL,true"),
        actor=None,
        dry_run=True,
    )
    assert not result.applied
    assert result.plan.describe() == [
        "create erin@contoso.com",
        "update alice@contoso.com: usage_location: NL → DE",
        "soft-delete bob@contoso.com",
        "soft-delete carol@contoso.com",
    ]
    assert snapshot() == before


def test_remove_sync_soft_deletes_every_synced_user(tenant, synced):
    result = sync_directory(tenant=tenant, data=None, actor=None, remove_sync=True)
    assert result.plan.summary()["soft-deleted"] == 3
    assert (
        DirectoryUser.objects.filter(soft_deleted_at__isnull=True).get().user_principal_name
        == "cloud@contoso.com"
    )
    assert (
        AuditEvent.objects.filter(
            activity="Delete user", details__reason="Synchronization was removed"
        ).count()
        == 3
    )


def test_bom_free_column_order_and_optional_columns(tenant):
    data = (
        "\ufeffaccountEnabled,jobTitle,userPrincipalName,department,usageLocation,displayName,onPremisesImmutableId\n"
        "TRUE,Engineer,erin@contoso.com,R&D,nl,Erin,abc123==\n"
    )
    sync_directory(tenant=tenant, data=data.encode(), actor=None)
    erin = DirectoryUser.objects.get()
    assert (
        erin.job_title,
        erin.department,
        erin.usage_location,
        erin.on_premises_immutable_id,
    ) == (
        "Engineer",
        "R&D",
        "NL",
        "abc123==",
    )


BAD_FILES = {
    "bad CSV": (csv_bytes('alice@contoso.com,"Alice,NL,true'), "line 2: not valid CSV"),
    "missing required column": (
        b"userPrincipalName,displayName,accountEnabled\nalice@contoso.com,A,true\n",
        "line 1: missing required column: usageLocation",
    ),
    "unknown column": (
        b"userPrincipalName,displayName,usageLocation,accountEnabled,mail\nx@contoso.com,X,NL,true,x\n",
        "line 1: unknown column: mail",
    ),
    "invalid UPN": (
        csv_bytes("alice@contoso.com,Alice,NL,true", "not an upn,Bob,NL,true"),
        "line 3: “not an upn” is not a valid user principal name",
    ),
    "unknown country code": (
        csv_bytes("alice@contoso.com,Alice,XX,true"),
        "line 2: “XX” is not a known country code",
    ),
    "duplicate UPN": (
        csv_bytes("alice@contoso.com,Alice,NL,true", "ALICE@contoso.com,Alice,NL,true"),
        "line 3: ALICE@contoso.com is also on line 2",
    ),
    "NUL bytes": (
        csv_bytes("alice@contoso.com,Alice,NL,true", "bob@contoso.com,B\x00ob,NL,true"),
        "line 3: the file contains a NUL byte",
    ),
    "not UTF-8": (
        HEADER.encode() + "bob@contoso.com,Bøb,NL,true\n".encode("latin-1"),
        "line 2: the file is not UTF-8",
    ),
    "wrong field count": (
        csv_bytes("alice@contoso.com,Alice,NL"),
        "line 2: expected 4 fields, found 3",
    ),
    "bad accountEnabled": (
        csv_bytes("alice@contoso.com,Alice,NL,maybe"),
        "line 2: accountEnabled must be true or false",
    ),
    "empty file": (b"", "line 1: the file is empty"),
    "empty display name": (csv_bytes("alice@contoso.com,,NL,true"), "line 2: displayName is empty"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_malformed_file_names_the_line_and_changes_nothing(tenant, synced, name):
    data, message = BAD_FILES[name]
    before = snapshot()
    with pytest.raises(SyncFileError) as refused:
        sync_directory(tenant=tenant, data=data, actor=None)
    assert message in str(refused.value)
    assert snapshot() == before


def test_every_problem_of_a_file_is_reported_at_once():
    with pytest.raises(SyncFileError) as refused:
        parse_export(
            csv_bytes("a@contoso.com,A,XX,true", "bad,B,NL,true", "c@contoso.com,C,NL,nope")
        )
    assert [line for line, _ in refused.value.problems] == [2, 3, 4]


def test_command_prints_a_summary_and_a_dry_run(tenant, synced, tmp_path):
    export = tmp_path / "export.csv"
    export.write_bytes(csv_bytes("alice@contoso.com,Alice,NL,true", "bob@contoso.com,Bob,NL,true"))
    out = io.StringIO()
    call_command(
        "sync_directory", str(export), tenant="contoso.onmicrosoft.com", dry_run=True, stdout=out
    )
    assert "soft-delete carol@contoso.com" in out.getvalue()
    assert (
        "Would change: created: 0, updated: 0, soft-deleted: 1, restored: 0, unchanged: 2"
        in out.getvalue()
    )
    out = io.StringIO()
    call_command("sync_directory", str(export), tenant="contoso.onmicrosoft.com", stdout=out)
    assert (
        "Synchronized: created: 0, updated: 0, soft-deleted: 1, restored: 0, unchanged: 2"
        in out.getvalue()
    )


def test_command_fails_with_the_reason_on_a_bad_file_or_tenant(tenant, synced, tmp_path):
    export = tmp_path / "export.csv"
    export.write_bytes(csv_bytes("alice@contoso.com,Alice,XX,true"))
    with pytest.raises(CommandError, match="line 2"):
        call_command("sync_directory", str(export), tenant="contoso.onmicrosoft.com")
    with pytest.raises(CommandError, match="No tenant"):
        call_command("sync_directory", str(export), tenant="nope.onmicrosoft.com")
    with pytest.raises(CommandError, match="either a file or --remove-sync"):
        call_command("sync_directory", tenant="contoso.onmicrosoft.com")
