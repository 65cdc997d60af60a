"""The vocabulary of the licensing portal (docs/rules.md, "Vocabulary").

Models hold data and simple facts about one row. Everything that changes license state is a
service in ``licensing.services``; the materialized ``UserLicense`` rows are derived in one
place, ``licensing.reconcile``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Lower
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from licensing.vocabulary import (  # noqa: F401 (the names every module imports from here)
    COUNTING_STATUSES,
    SEAT_STATES,
    LicenseError,
    LicenseState,
    SubscriptionStatus,
)


class Tenant(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=256)
    initial_domain = models.CharField(
        max_length=253, unique=True, help_text="contoso.onmicrosoft.com"
    )
    country = CountryField(help_text="The organization's country: the default usage location.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AppliesTo(models.TextChoices):
    USER = "User", "User"
    COMPANY = "Company", "Company"


class ServicePlan(models.Model):
    service_plan_id = models.UUIDField(unique=True)
    service_plan_name = models.CharField(max_length=100, unique=True)
    display_name = models.CharField(max_length=200)
    not_offered_in = CountryField(multiple=True, blank=True)
    # "Requires one of": a plan with prerequisites is usable when at least one of them is
    # enabled for the same user (Office for the web needs SharePoint Plan 1 *or* Plan 2).
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, related_name="required_by", blank=True
    )
    exclusive_with = models.ManyToManyField("self", symmetrical=True, blank=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class Product(models.Model):
    sku_id = models.UUIDField(unique=True)
    sku_part_number = models.CharField(max_length=100, unique=True)
    display_name = models.CharField(max_length=200)
    applies_to = models.CharField(max_length=10, choices=AppliesTo.choices)
    service_plans = models.ManyToManyField(
        ServicePlan, through="ProductServicePlan", related_name="products"
    )

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_assignable(self) -> bool:
        return self.applies_to == AppliesTo.USER


class ProductServicePlan(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="plan_links")
    service_plan = models.ForeignKey(ServicePlan, on_delete=models.PROTECT)
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["product", "position"]
        constraints = [
            models.UniqueConstraint(fields=["product", "service_plan"], name="uniq_product_plan"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.service_plan_id} (#{self.position})"


class CatalogStamp(models.Model):
    """One row whose value changes with every write to the catalog's tables (products, plans,
    their links, dependencies, exclusions): database triggers set it to a value never used
    before, so a process may keep the catalog it read until the stamp differs
    (``licensing.catalog_store.current_catalog``), whoever changed the catalog and however."""

    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"catalog stamp {self.value}"


class Subscription(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="subscriptions")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="subscriptions")
    units = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ENABLED
    )
    start_date = models.DateField()
    next_lifecycle_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["tenant", "product", "start_date"]
        indexes = [models.Index(fields=["tenant", "product", "status"])]

    def __str__(self) -> str:
        return f"{self.units} × {self.product} ({self.status})"

    @property
    def in_grace_period(self) -> bool:
        """Expired and still usable: its units count towards Total as Expiring soon."""
        return self.status == SubscriptionStatus.WARNING


class TenantProduct(models.Model):
    """The row that guards one tenant's seats for one product.

    Every service that can take or free a seat locks these rows (``select_for_update``) in
    product order before it counts; see ``licensing.seats.lock_seats``.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    product = models.ForeignKey(Product, on_delete=models.CASCADE)
    # Assigned (docs/rules.md §1), kept by whoever holds this row's lock and changes seat-holding
    # rows (licensing.seats.adjust_assigned / recount_assigned), so that pages read it
    # instead of counting distinct users over 100,000 rows. consistency_problems checks it.
    assigned = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "product"], name="uniq_tenant_product"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant} — {self.product}"


class UserSource(models.TextChoices):
    CLOUD = "cloud", _("Cloud")
    SYNCED = "synced", _("Synced")


class DirectoryUserQuerySet(models.QuerySet):
    def active(self) -> DirectoryUserQuerySet:
        return self.filter(soft_deleted_at__isnull=True)


class DirectoryUser(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="users")
    user_principal_name = models.CharField(max_length=113)
    display_name = models.CharField(max_length=256)
    usage_location = CountryField(blank=True)
    source = models.CharField(max_length=10, choices=UserSource.choices, default=UserSource.CLOUD)
    account_enabled = models.BooleanField(default=True)
    department = models.CharField(max_length=64, blank=True)
    job_title = models.CharField(max_length=128, blank=True)
    # The on-premises anchor of a synced user (Azure AD Connect's sourceAnchor).
    on_premises_immutable_id = models.CharField(max_length=256, blank=True)
    # The identity provider's own id of the user (SCIM ``externalId``).
    external_id = models.CharField(max_length=256, blank=True)
    soft_deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the services last changed the profile, usage location or deletion state (SCIM's
    # ``meta.lastModified``); empty: not since it was created.
    modified_at = models.DateTimeField(null=True, blank=True)

    objects = DirectoryUserQuerySet.as_manager()

    class Meta:
        ordering = ["display_name", "id"]
        constraints = [
            models.UniqueConstraint(
                "tenant", Lower("user_principal_name"), name="uniq_tenant_upn_ci"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "display_name"]),
            # Deleted users, the longest deleted first, counted and paged without reading the
            # tenant's other users.
            models.Index(
                fields=["tenant", "soft_deleted_at", "id"],
                condition=Q(soft_deleted_at__isnull=False),
                name="directoryuser_deleted",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_soft_deleted(self) -> bool:
        return self.soft_deleted_at is not None


class ProcessingState(models.TextChoices):
    QUEUED = "QueuedForProcessing", _("Queued for processing")
    IN_PROGRESS = "ProcessingInProgress", _("Processing in progress")
    COMPLETE = "ProcessingComplete", _("Latest license changes have been applied to all users")


class GroupQuerySet(models.QuerySet):
    def with_license_counts(self, product=None) -> GroupQuerySet:
        """Annotate ``member_count`` and ``members_in_error`` (members with an inherited
        license of the group in Error, for one product if given) from the counters the engine
        keeps (``licensing.seats.recount_errors``): a group of 60,000 members is not counted
        to show its line."""
        if product is None:
            errors = F("error_counter")
        else:
            kept = LicenseAssignment.objects.filter(group=OuterRef("pk"), product=product)
            errors = Coalesce(Subquery(kept.values("error_counter")[:1]), 0)
        return self.annotate(member_count=F("member_counter"), members_in_error=errors)

    def with_license_errors(self) -> GroupQuerySet:
        """Groups with at least one member whose inherited license is in error, with
        ``members_in_error``."""
        return self.filter(error_counter__gt=0).annotate(members_in_error=F("error_counter"))


class Group(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=256)
    description = models.TextField(blank=True)
    # The identity provider's own id of the group (SCIM ``externalId``).
    external_id = models.CharField(max_length=256, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the services last changed the name, description or members; empty: not since it
    # was created.
    modified_at = models.DateTimeField(null=True, blank=True)
    processing_state = models.CharField(
        max_length=24, choices=ProcessingState.choices, default=ProcessingState.COMPLETE
    )
    processing_total = models.PositiveIntegerField(default=0)
    processing_done = models.PositiveIntegerField(default=0)
    processing_updated_at = models.DateTimeField(null=True, blank=True)
    # Each change that (re)processes the group starts a new run; an older run not applied yet
    # does nothing (licensing.processing).
    processing_run = models.PositiveIntegerField(default=0)
    # Where the run starts: members up to this one, in claim order (added_at, user id), were
    # applied before it (members who joined a group whose run was complete).
    processing_cursor_at = models.DateTimeField(null=True, blank=True)
    processing_cursor_user = models.BigIntegerField(null=True, blank=True)
    # Kept by the services and the engine for the pages (licensing.seats): how many members
    # the group has, and how many of them hold a license of the group in Error.
    # consistency_problems checks both against the rows.
    member_counter = models.IntegerField(default=0, db_default=0)
    error_counter = models.IntegerField(default=0, db_default=0)

    objects = GroupQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["tenant", "name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_processing(self) -> bool:
        return self.processing_state != ProcessingState.COMPLETE


class GroupMembership(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(DirectoryUser, on_delete=models.CASCADE, related_name="memberships")
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["group", "user"], name="uniq_group_member"),
        ]
        # Members in claim order, for group processing.
        indexes = [
            models.Index(fields=["user"]),
            models.Index(fields=["group", "added_at", "user"]),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.group}"


class LicenseAssignment(models.Model):
    """An admin's intent: a user (direct) or a group holds a product."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(
        DirectoryUser,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="direct_assignments",
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="assignments"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="assignments")
    # Service plan GUIDs (strings, sorted). Storing the *disabled* plans means a plan added to
    # the product later is enabled in every existing assignment (docs/rules.md §4).
    disabled_plans = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField()
    # A group's intent: how many members hold its license in Error (kept as Group's are).
    error_counter = models.IntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True)
                | Q(user__isnull=True, group__isnull=False),
                name="assignment_user_xor_group",
            ),
            models.UniqueConstraint(
                fields=["user", "product"],
                condition=Q(user__isnull=False),
                name="uniq_direct_assignment",
            ),
            models.UniqueConstraint(
                fields=["group", "product"],
                condition=Q(group__isnull=False),
                name="uniq_group_assignment",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "product"])]

    def __str__(self) -> str:
        target = self.user or self.group
        return f"{self.product} → {target}"


class UserLicenseQuerySet(models.QuerySet):
    def holding_seats(self) -> UserLicenseQuerySet:
        return self.filter(state__in=SEAT_STATES)


class UserLicense(models.Model):
    """The materialized result per user, product and path (Graph's licenseAssignmentStates).

    Derived data: written only from intent, by ``licensing.reconcile`` and, deciding by the
    same rules, ``licensing.fastpath`` (big groups) and ``licensing.single`` (one user's
    direct change); checked against a recomputation by ``licensing.consistency``. Its
    references are Django relations without database constraints (``db_constraint=False``): Django still
    cascades deletions, and a group of 100,000 members is written at the speed of a plain
    ``INSERT … SELECT`` instead of paying five foreign-key checks per row (two thirds of the
    time, measured by ``make bench``). ``consistency_problems`` reports a dangling reference.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, db_constraint=False)
    user = models.ForeignKey(
        DirectoryUser, on_delete=models.CASCADE, related_name="licenses", db_constraint=False
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, db_constraint=False)
    assignment = models.ForeignKey(
        LicenseAssignment,
        on_delete=models.CASCADE,
        related_name="user_licenses",
        db_constraint=False,
    )
    via_group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="inherited_licenses",
        db_constraint=False,
    )
    disabled_plans = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=16, choices=LicenseState.choices)
    error = models.CharField(max_length=40, choices=LicenseError.choices, blank=True, default="")
    last_updated = models.DateTimeField()

    objects = UserLicenseQuerySet.as_manager()

    class Meta:
        ordering = ["user", "product", "id"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "user"], name="uniq_path_per_user"),
            models.CheckConstraint(
                condition=(
                    Q(
                        state__in=[LicenseState.ACTIVE, LicenseState.SUSPENDED],
                        error=LicenseError.NONE,
                    )
                    | (
                        Q(state__in=[LicenseState.ACTIVE_WITH_ERROR, LicenseState.ERROR])
                        & ~Q(error=LicenseError.NONE)
                    )
                ),
                name="license_error_matches_state",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "product", "state"]),
            models.Index(fields=["user", "product"]),
            # The group's members in Error, in user order, read from the index alone; and
            # counted per product from it (licensing.seats.recount_errors).
            models.Index(fields=["via_group", "state", "user", "product"]),
        ]

    def __str__(self) -> str:
        path = f"inherited from {self.via_group}" if self.via_group_id else "direct"
        return f"{self.user} — {self.product} ({path}): {self.state}"


class AuditEvent(models.Model):
    """Append-only record of a change, written in the transaction of the change."""

    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=254)
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_events"
    )
    activity = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=30)
    target_id = models.CharField(max_length=64, blank=True)
    target_name = models.CharField(max_length=256, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-occurred_at"]),
            # An activity's events, newest first; and the activities, each once, read by
            # skipping through it (licensing.selectors.audit.activities).
            models.Index(fields=["tenant", "activity", "-occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.activity}: {self.target_name}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")


class Role(models.TextChoices):
    GLOBAL_ADMINISTRATOR = "GlobalAdministrator", _("Global administrator")
    LICENSE_ADMINISTRATOR = "LicenseAdministrator", _("License administrator")
    GLOBAL_READER = "GlobalReader", _("Global reader")


class RoleAssignment(models.Model):
    """A portal sign-in account's directory role in one tenant."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tenant_roles"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(max_length=24, choices=Role.choices)

    class Meta:
        ordering = ["tenant", "account"]
        constraints = [
            models.UniqueConstraint(fields=["account", "tenant"], name="uniq_account_tenant_role"),
        ]

    def __str__(self) -> str:
        return f"{self.account} — {self.get_role_display()} in {self.tenant}"

    @property
    def can_manage_licenses(self) -> bool:
        return self.role in (Role.GLOBAL_ADMINISTRATOR, Role.LICENSE_ADMINISTRATOR)

    @property
    def can_manage_directory(self) -> bool:
        return self.role == Role.GLOBAL_ADMINISTRATOR


class AppPermission(models.TextChoices):
    """Microsoft Graph's application permissions, as an app registration holds them."""

    LICENSING = "LicenseAssignment.ReadWrite.All", _("Read and write license assignments")
    READ = "Directory.Read.All", _("Read directory data")


class IssuedCredential(models.Model):
    """What an app registration and a provisioning token share: who issued it and when, when
    it was revoked, and when it was last used (``licensing.services.apps.mark_used``)."""

    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=254, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class AppRegistration(IssuedCredential):
    """A script's identity for the Graph-compatible API, in one tenant (docs/api.md).

    The client secret is shown once, when the app is registered; only its SHA-256 is kept (a
    generated secret of 256 random bits needs no slow hash). Tokens name the app; a revoked
    app's tokens stop working at once."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="apps")
    name = models.CharField(max_length=120)
    client_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    secret_sha256 = models.CharField(max_length=64, editable=False)
    secret_hint = models.CharField(max_length=8, editable=False)
    permission = models.CharField(max_length=40, choices=AppPermission.choices)

    class Meta:
        ordering = ["tenant", "name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def can_write(self) -> bool:
        return self.permission == AppPermission.LICENSING

    @property
    def actor(self) -> str:
        """How the audit log names the app (as Entra names a service principal)."""
        return f"{self.name} (app {self.client_id})"


class ScimToken(IssuedCredential):
    """The bearer token an identity provider uses to provision one tenant by SCIM
    (docs/provisioning.md). Shown once; only its SHA-256 is kept. Issuing a new one (rotate)
    revokes the tenant's previous token."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="scim_tokens")
    token_sha256 = models.CharField(max_length=64, unique=True, editable=False)
    token_hint = models.CharField(max_length=8, editable=False)

    class Meta:
        ordering = ["tenant", "-created_at", "-id"]
        verbose_name = _("SCIM token")
        verbose_name_plural = _("SCIM tokens")

    def __str__(self) -> str:
        return f"{self.token_hint}…"


class AccountPreferences(models.Model):
    """What an account chose for itself: the portal's language (empty: the browser's)."""

    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, blank=True)

    class Meta:
        # One account's preferences are already plural ("Account preferencess" otherwise).
        verbose_name = _("account preferences")
        verbose_name_plural = _("account preferences")

    def __str__(self) -> str:
        return f"{self.account} ({self.language or 'browser'})"


class AccountIdentity(models.Model):
    """The organization identity an account is bound to (README, "Signing in with the
    organization's account"; docs/security.md).

    Bound at the account's first sign-in with the organization's account: the provider's
    issuer (``iss``), the subject (``sub``) and, for Entra ID, the directory (``tid``; empty
    where the provider sends none). From then on only that identity signs in as the account,
    whatever e-mail others assert; support unbinds it in the Django admin (audited)."""

    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identity"
    )
    issuer = models.CharField(max_length=512)
    subject = models.CharField(max_length=255)
    tenant_id = models.CharField(max_length=64, blank=True)
    bound_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("sign-in identity")
        verbose_name_plural = _("sign-in identities")
        constraints = [
            # One identity signs in as one account.
            models.UniqueConstraint(
                fields=["issuer", "subject", "tenant_id"], name="uniq_account_identity"
            ),
        ]

    def __str__(self) -> str:
        where = f"{self.issuer}, tenant {self.tenant_id}" if self.tenant_id else self.issuer
        return f"{self.subject} ({where})"
