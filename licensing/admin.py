"""Django admin for support staff.

Changes to assignments, memberships, users and subscriptions go through the same services as
the portal, with the staff user as the actor, so they are audited and can never
oversubscribe. The catalog, the derived UserLicense rows and the audit trail are read-only.
"""

from __future__ import annotations

import unicodedata

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.humanize.templatetags.humanize import intcomma
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_countries import countries

from licensing import services
from licensing.errors import LicensingError
from licensing.models import (
    AccountIdentity,
    AccountPreferences,
    AppRegistration,
    AuditEvent,
    CatalogStamp,
    DirectoryUser,
    Group,
    GroupMembership,
    LicenseAssignment,
    Product,
    ProductServicePlan,
    RoleAssignment,
    ScimToken,
    ServicePlan,
    Subscription,
    Tenant,
    TenantProduct,
    UserLicense,
)
from licensing.seats import annotate_seat_counts, seat_counts
from licensing.services import accounts


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ThroughServicesAdmin(admin.ModelAdmin):
    """A refused change (too few seats, a licensed group, …) is shown as an error message
    and nothing is saved: the admin's own transaction is rolled back with it."""

    def changeform_view(self, request, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except LicensingError as refused:
            self.message_user(request, str(refused), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, *args, **kwargs):
        try:
            return super().delete_view(request, *args, **kwargs)
        except LicensingError as refused:
            self.message_user(request, str(refused), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # bulk delete would bypass the services
        return actions


# -- catalog ------------------------------------------------------------------------------


class ProductServicePlanInline(admin.TabularInline):
    model = ProductServicePlan
    fields = ["position", "service_plan"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Product)
class ProductAdmin(ReadOnlyAdmin):
    list_display = ["display_name", "sku_part_number", "sku_id", "applies_to"]
    list_filter = ["applies_to"]
    search_fields = ["display_name", "sku_part_number", "sku_id"]
    inlines = [ProductServicePlanInline]


@admin.register(ProductServicePlan)
class ProductServicePlanAdmin(ReadOnlyAdmin):
    list_display = ["product", "position", "service_plan"]
    list_filter = ["product"]
    search_fields = ["product__display_name", "service_plan__service_plan_name"]
    list_select_related = ["product", "service_plan"]


@admin.register(ServicePlan)
class ServicePlanAdmin(ReadOnlyAdmin):
    list_display = ["display_name", "service_plan_name", "service_plan_id", "not_offered_in"]
    search_fields = ["display_name", "service_plan_name", "service_plan_id"]
    filter_horizontal = ["depends_on", "exclusive_with"]


# -- tenants and seats ----------------------------------------------------------------------


@admin.register(AppRegistration)
class AppRegistrationAdmin(ReadOnlyAdmin):
    """Apps of the Graph-compatible API, for support to see; a tenant's Global administrator
    registers and revokes them (the secret is shown to them alone, once)."""

    list_display = [
        "name",
        "tenant",
        "client_id",
        "permission",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["tenant", "permission"]
    search_fields = ["name", "client_id", "tenant__name"]
    list_select_related = ["tenant"]
    exclude = ["secret_sha256"]


@admin.register(ScimToken)
class ScimTokenAdmin(ReadOnlyAdmin):
    """Provisioning tokens (docs/provisioning.md), for support to see; a tenant's Global
    administrator issues and revokes them (the token is shown to them alone, once)."""

    list_display = [
        "token_hint",
        "tenant",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["tenant"]
    search_fields = ["tenant__name", "created_by"]
    list_select_related = ["tenant"]
    exclude = ["token_sha256"]


@admin.register(AccountPreferences)
class AccountPreferencesAdmin(admin.ModelAdmin):
    """What accounts chose for themselves (the portal's language); support may reset it."""

    list_display = ["account", "language"]
    list_filter = ["language"]
    search_fields = ["account__username", "account__email"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]


@admin.register(TenantProduct)
class SeatsAdmin(ReadOnlyAdmin):
    """Seat counts (docs/rules.md §1) per tenant and product, one query for the whole page."""

    list_display = ["tenant", "product", "total", "assigned", "available"]
    list_filter = ["tenant", "product"]
    search_fields = ["tenant__name", "product__display_name", "product__sku_part_number"]
    list_select_related = ["tenant", "product"]

    def get_queryset(self, request):
        return annotate_seat_counts(super().get_queryset(request))

    @admin.display(description=_("Total"), ordering="total")
    def total(self, obj) -> int:
        return obj.total

    @admin.display(description=_("Assigned"), ordering="assigned")
    def assigned(self, obj) -> int:
        return obj.assigned

    @admin.display(description=_("Available"))
    def available(self, obj) -> int:
        return obj.total - obj.assigned


@admin.register(CatalogStamp)
class CatalogStampAdmin(ReadOnlyAdmin):
    """The value database triggers change on every write to the catalog; a process keeps the
    catalog it read until it differs. Nothing to edit: shown for support's curiosity."""

    list_display = ["value"]


def folded(text: str) -> str:
    """``text`` as the country search compares it: any case, without accents (België, belgie)."""
    return "".join(
        c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c)
    )


class CountrySearchFilter(admin.ListFilter):
    """The tenants' country as a text box rather than a list of some 250 countries: a
    fragment of the country's name in the admin's language (django-countries' names), or its
    two-letter code, in any case. The form keeps the other filters and the search."""

    title = _("country")
    parameter_name = "country"
    template = "admin/country_search_filter.html"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        if self.parameter_name in params:
            value = params.pop(self.parameter_name)[-1].strip()
            if value:
                self.used_parameters[self.parameter_name] = value

    def value(self) -> str:
        return self.used_parameters.get(self.parameter_name, "")

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return [self.parameter_name]

    def choices(self, changelist):
        # One "choice": what the template's form needs.
        yield {
            "parameter": self.parameter_name,
            "value": self.value(),
            "others": [
                (name, value)
                for name, values in sorted(changelist.filter_params.items())
                if name != self.parameter_name
                for value in values
            ],
            "clear": changelist.get_query_string(remove=[self.parameter_name]),
        }

    def queryset(self, request, queryset):
        text = self.value()
        if not text:
            return queryset
        fragment = folded(text)
        codes = [
            code
            for code, name in countries
            if fragment in folded(str(name)) or text.upper() == code
        ]
        return queryset.filter(**{f"{self.parameter_name}__in": codes})


@admin.register(Tenant)
class TenantAdmin(ThroughServicesAdmin):
    list_display = ["name", "initial_domain", "country", "created_at"]
    search_fields = ["name", "initial_domain"]
    list_filter = [CountrySearchFilter]
    fields = ["public_id", "name", "initial_domain", "country", "seat_summary"]

    def get_readonly_fields(self, request, obj=None):
        return ["public_id", "seat_summary", *(["initial_domain"] if obj else [])]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a tenant's whole history would go with it

    def save_model(self, request, obj, form, change):
        if change:
            services.tenant_update(
                tenant=obj, name=obj.name, country=str(obj.country), actor=request.user
            )
        else:
            obj.pk = services.tenant_create(
                name=obj.name,
                initial_domain=obj.initial_domain,
                country=str(obj.country),
                actor=request.user,
            ).pk

    @admin.display(description=_("Seats (Total / Expiring soon / Assigned / Available)"))
    def seat_summary(self, obj: Tenant):
        if obj.pk is None:
            return "—"
        names = dict(Product.objects.values_list("id", "display_name"))
        rows = sorted(seat_counts(obj).items(), key=lambda item: names[item[0]])
        return (
            format_html_join(
                "\n",
                "<div>{}: {} / {} / {} / {}{}</div>",
                (
                    (
                        names[pid],
                        c["total"],
                        c["expiring"],
                        c["assigned"],
                        c["available"],
                        " — over-assigned" if c["over_assigned"] else "",
                    )
                    for pid, c in rows
                ),
            )
            or "—"
        )


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(ThroughServicesAdmin):
    list_display = ["account", "tenant", "role"]
    list_filter = ["role", "tenant"]
    search_fields = ["account__username", "tenant__name"]
    autocomplete_fields = ["tenant"]

    def get_readonly_fields(self, request, obj=None):
        return ["account", "tenant"] if obj else []

    def save_model(self, request, obj, form, change):
        obj.pk = services.role_set(
            tenant=obj.tenant, account=obj.account, role=obj.role, actor=request.user
        ).pk

    def delete_model(self, request, obj):
        services.role_remove(tenant=obj.tenant, account=obj.account, actor=request.user)


@admin.register(Subscription)
class SubscriptionAdmin(ThroughServicesAdmin):
    list_display = ["tenant", "product", "units", "status", "start_date", "next_lifecycle_date"]
    list_filter = ["status", "product", "tenant"]
    search_fields = ["tenant__name", "product__display_name", "product__sku_part_number"]
    list_select_related = ["tenant", "product"]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", "product", "start_date"] if obj else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # cancellations are a status change, so the history stays

    def save_model(self, request, obj, form, change):
        if change:
            services.subscription_update(
                tenant=obj.tenant,
                subscription=obj,
                units=obj.units,
                status=obj.status,
                next_lifecycle_date=obj.next_lifecycle_date,
                actor=request.user,
            )
        else:
            created = services.subscription_create(
                tenant=obj.tenant,
                product=obj.product,
                units=obj.units,
                status=obj.status,
                start_date=obj.start_date,
                next_lifecycle_date=obj.next_lifecycle_date,
                actor=request.user,
            )
            obj.pk = created.pk


# -- directory ------------------------------------------------------------------------------


class SoftDeletedFilter(admin.SimpleListFilter):
    title = _("deleted")
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("yes", _("Soft-deleted")), ("no", _("Active"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(soft_deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(soft_deleted_at__isnull=True)
        return queryset


@admin.register(DirectoryUser)
class DirectoryUserAdmin(ThroughServicesAdmin):
    list_display = [
        "display_name",
        "user_principal_name",
        "tenant",
        "usage_location",
        "source",
        "account_enabled",
        "soft_deleted_at",
    ]
    list_filter = [SoftDeletedFilter, "source", "account_enabled", "tenant"]
    search_fields = ["display_name", "user_principal_name", "public_id"]
    list_select_related = ["tenant"]
    actions = ["soft_delete", "restore", "reprocess"]
    fields = [
        "public_id",
        "tenant",
        "user_principal_name",
        "display_name",
        "usage_location",
        "source",
        *services.PROFILE_FIELDS[1:],
        "soft_deleted_at",
        "created_at",
    ]

    def get_readonly_fields(self, request, obj=None):
        base = ["public_id", "soft_deleted_at", "created_at"]
        return [*base, "tenant", "user_principal_name", "source"] if obj else base

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.user_create(
                tenant=obj.tenant,
                user_principal_name=obj.user_principal_name,
                display_name=obj.display_name,
                usage_location=str(obj.usage_location or ""),
                source=obj.source,
                **{f: getattr(obj, f) for f in services.PROFILE_FIELDS[1:]},
                actor=request.user,
            )
            obj.pk = created.pk
            return
        services.user_update_profile(
            tenant=obj.tenant,
            user=obj,
            **{f: getattr(obj, f) for f in services.PROFILE_FIELDS},
            actor=request.user,
        )
        if "usage_location" in form.changed_data:
            services.user_set_usage_location(
                tenant=obj.tenant,
                user=DirectoryUser.objects.get(pk=obj.pk),
                usage_location=str(obj.usage_location or ""),
                actor=request.user,
            )

    def delete_model(self, request, obj):
        services.user_delete_permanently(tenant=obj.tenant, user=obj, actor=request.user)

    @admin.action(description=_("Soft-delete selected users (licenses become Suspended)"))
    def soft_delete(self, request, queryset):
        self._each(
            request, queryset.filter(soft_deleted_at__isnull=True), services.user_soft_delete
        )

    @admin.action(description=_("Restore selected users"))
    def restore(self, request, queryset):
        self._each(request, queryset.filter(soft_deleted_at__isnull=False), services.user_restore)

    @admin.action(description=_("Reprocess license assignments of selected users"))
    def reprocess(self, request, queryset):
        self._each(request, queryset, services.reprocess_user)

    def _each(self, request, queryset, service):
        done = 0
        for user in queryset.select_related("tenant"):
            try:
                service(tenant=user.tenant, user=user, actor=request.user)
                done += 1
            except LicensingError as refused:
                self.message_user(request, f"{user.user_principal_name}: {refused}", messages.ERROR)
        self.message_user(
            request,
            ngettext("%(n)s user done.", "%(n)s users done.", done) % {"n": intcomma(done)},
            messages.SUCCESS,
        )


@admin.register(Group)
class GroupAdmin(ThroughServicesAdmin):
    list_display = ["name", "tenant", "processing_state", "members"]
    list_filter = ["processing_state", "tenant"]
    search_fields = ["name", "description", "public_id"]
    list_select_related = ["tenant"]
    actions = ["reprocess"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    # The processing fields are the group runs' own (licensing.processing): shown, never set.
    fields = [
        "public_id",
        "tenant",
        "name",
        "description",
        "processing_state",
        "processing_done",
        "processing_total",
        "processing_updated_at",
    ]

    def get_readonly_fields(self, request, obj=None):
        base = [
            "public_id",
            "processing_state",
            "processing_done",
            "processing_total",
            "processing_updated_at",
        ]
        return [*base, "tenant", "name", "description"] if obj else base

    @admin.display(description=_("Members"), ordering="member_count")
    def members(self, obj) -> int:
        return obj.member_count

    def save_model(self, request, obj, form, change):
        if not change:
            obj.pk = services.group_create(
                tenant=obj.tenant, name=obj.name, description=obj.description, actor=request.user
            ).pk

    def delete_model(self, request, obj):
        services.group_delete(tenant=obj.tenant, group=obj, actor=request.user)

    @admin.action(description=_("Reprocess selected groups"))
    def reprocess(self, request, queryset):
        for group in queryset.select_related("tenant"):
            services.reprocess_group(tenant=group.tenant, group=group, actor=request.user)
        self.message_user(request, _("Groups reprocessed."), messages.SUCCESS)


@admin.register(GroupMembership)
class GroupMembershipAdmin(ThroughServicesAdmin):
    list_display = ["group", "user", "added_at"]
    list_filter = ["group__tenant"]
    search_fields = ["group__name", "user__user_principal_name", "user__display_name"]
    list_select_related = ["group", "user"]
    autocomplete_fields = ["group", "user"]
    readonly_fields = ["added_at"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        group, user = obj.group, obj.user
        services.group_add_members(
            tenant=group.tenant, group=group, users=[user], actor=request.user
        )
        obj.pk = GroupMembership.objects.get(group=group, user=user).pk

    def delete_model(self, request, obj):
        services.group_remove_members(
            tenant=obj.group.tenant, group=obj.group, users=[obj.user], actor=request.user
        )


# -- licenses -------------------------------------------------------------------------------


class LicenseAssignmentForm(forms.ModelForm):
    disabled_plans = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = LicenseAssignment
        fields = ["tenant", "user", "group", "product", "disabled_plans"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["disabled_plans"].choices = [
            (str(p.service_plan_id), f"{p.display_name} ({p.service_plan_name})")
            for p in ServicePlan.objects.order_by("display_name")
        ]

    def clean(self):
        data = super().clean()
        if bool(data.get("user")) == bool(data.get("group")):
            raise forms.ValidationError(_("Choose a user or a group, not both."))
        return data


@admin.register(LicenseAssignment)
class LicenseAssignmentAdmin(ThroughServicesAdmin):
    form = LicenseAssignmentForm
    list_display = ["product", "user", "group", "tenant", "created_by", "created_at"]
    list_filter = ["product", "tenant"]
    search_fields = ["user__user_principal_name", "group__name", "product__display_name"]
    list_select_related = ["product", "user", "group", "tenant", "created_by"]
    autocomplete_fields = ["user", "group", "tenant"]

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", "user", "group", "product", "created_by", "created_at"] if obj else []

    def save_model(self, request, obj, form, change):
        disabled = form.cleaned_data.get("disabled_plans", [])
        if change:
            services.assignment_set_disabled_plans(
                tenant=obj.tenant,
                assignment=LicenseAssignment.objects.get(pk=obj.pk),
                disabled_plans=disabled,
                actor=request.user,
            )
        else:
            services.licenses_assign(
                tenant=obj.tenant,
                products={obj.product: disabled},
                users=[obj.user] if obj.user_id else [],
                groups=[obj.group] if obj.group_id else [],
                actor=request.user,
            )
            obj.pk = LicenseAssignment.objects.get(
                user=obj.user, group=obj.group, product=obj.product
            ).pk

    def delete_model(self, request, obj):
        if obj.user_id:
            services.product_remove_from_users(
                tenant=obj.tenant, product=obj.product, users=[obj.user], actor=request.user
            )
        else:
            services.group_remove_products(
                tenant=obj.tenant, group=obj.group, products=[obj.product], actor=request.user
            )


@admin.register(UserLicense)
class UserLicenseAdmin(ReadOnlyAdmin):
    list_display = ["user", "product", "via_group", "state", "error", "last_updated"]
    list_filter = ["state", "error", "product", "tenant"]
    search_fields = ["user__user_principal_name", "user__display_name", "via_group__name"]
    list_select_related = ["user", "product", "via_group"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "activity", "target_name", "actor_name", "tenant"]
    list_filter = ["activity", "tenant", ("occurred_at", admin.DateFieldListFilter)]
    search_fields = ["activity", "target_name", "actor_name", "target_id"]
    list_select_related = ["tenant"]
    date_hierarchy = "occurred_at"


@admin.register(AccountIdentity)
class AccountIdentityAdmin(ReadOnlyAdmin):
    """Which organization identity each account is bound to (docs/security.md); bound at the
    first sign-in, unbound with the account list's action."""

    list_display = ["account", "subject", "tenant_id", "issuer", "bound_at"]
    search_fields = ["account__username", "account__email", "subject", "tenant_id", "issuer"]
    list_select_related = ["account"]


class AccountAdmin(DjangoUserAdmin):
    """Portal accounts, with when each last signed in (by password or the organization's
    account) and the organization identity each is bound to (docs/security.md)."""

    list_display = [*DjangoUserAdmin.list_display, "last_login", "sign_in_identity"]
    list_filter = [*DjangoUserAdmin.list_filter, "last_login"]
    list_select_related = ["identity"]
    search_fields = [*DjangoUserAdmin.search_fields, "identity__subject", "identity__tenant_id"]
    actions = ["unbind_identity"]

    @admin.display(description=_("Sign-in identity"), ordering="identity__subject")
    def sign_in_identity(self, obj) -> str | None:
        identity = getattr(obj, "identity", None)
        return str(identity) if identity else None

    @admin.action(
        description=_("Unbind the sign-in identity of selected accounts"),
        permissions=["change"],
    )
    def unbind_identity(self, request, queryset):
        done = sum(
            accounts.identity_unbind(account=account, actor=request.user) for account in queryset
        )
        self.message_user(
            request,
            ngettext(
                "%(n)d account unbound: the next organization identity with its e-mail binds it.",
                "%(n)d accounts unbound: the next organization identity with each e-mail binds it.",
                done,
            )
            % {"n": done},
            messages.SUCCESS,
        )


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), AccountAdmin)
