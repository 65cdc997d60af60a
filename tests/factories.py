"""factory-boy factories for every model. The catalog itself is loaded by a migration, so
tests use real products through ``product("ENTERPRISEPACK")``; the catalog factories make
extra ones where a test needs its own."""

from __future__ import annotations

import datetime
import uuid

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from licensing import models
from licensing.management.commands.load_demo import FIRST, LAST
from licensing.seats import add_members_counted


def product(sku_part_number: str) -> models.Product:
    return models.Product.objects.get(sku_part_number=sku_part_number)


def plan(service_plan_name: str) -> models.ServicePlan:
    return models.ServicePlan.objects.get(service_plan_name=service_plan_name)


def plan_id(service_plan_name: str) -> str:
    return str(plan(service_plan_name).service_plan_id)


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"admin{n}@operator.example")
    email = factory.LazyAttribute(lambda o: o.username)
    password = factory.django.Password("correct horse battery staple")


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")
    initial_domain = factory.Sequence(lambda n: f"tenant{n}.onmicrosoft.com")
    country = "NL"


class RoleAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.RoleAssignment

    account = factory.SubFactory(AccountFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = models.Role.GLOBAL_ADMINISTRATOR


class ServicePlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ServicePlan

    service_plan_id = factory.LazyFunction(uuid.uuid4)
    service_plan_name = factory.Sequence(lambda n: f"TEST_PLAN_{n}")
    display_name = factory.Sequence(lambda n: f"Test plan {n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Product

    sku_id = factory.LazyFunction(uuid.uuid4)
    sku_part_number = factory.Sequence(lambda n: f"TEST_SKU_{n}")
    display_name = factory.Sequence(lambda n: f"Test product {n}")
    applies_to = models.AppliesTo.USER


class ProductServicePlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ProductServicePlan

    product = factory.SubFactory(ProductFactory)
    service_plan = factory.SubFactory(ServicePlanFactory)
    position = factory.Sequence(int)


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Subscription

    tenant = factory.SubFactory(TenantFactory)
    product = factory.LazyFunction(lambda: product("AAD_PREMIUM"))
    units = 10
    status = models.SubscriptionStatus.ENABLED
    start_date = factory.LazyFunction(lambda: datetime.date(2026, 1, 1))
    next_lifecycle_date = factory.LazyFunction(lambda: datetime.date(2027, 1, 1))


class DirectoryUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.DirectoryUser

    tenant = factory.SubFactory(TenantFactory)
    display_name = factory.Sequence(lambda n: f"{FIRST[n % len(FIRST)]} {LAST[n % len(LAST)]} {n}")
    user_principal_name = factory.LazyAttributeSequence(
        lambda o, n: f"user{n}@{o.tenant.initial_domain}"
    )
    usage_location = ""
    source = models.UserSource.CLOUD


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Group

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Group {n}")


class GroupMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.GroupMembership

    group = factory.SubFactory(GroupFactory)
    user = factory.SubFactory(DirectoryUserFactory, tenant=factory.SelfAttribute("..group.tenant"))
    added_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """A membership made around the services keeps the group's counter, as theirs do."""
        membership = super()._create(model_class, *args, **kwargs)
        add_members_counted([membership.group_id], 1)
        membership.group.refresh_from_db(fields=["member_counter"])
        return membership


class LicenseAssignmentFactory(factory.django.DjangoModelFactory):
    """Intent only: tests that need derived rows go through the services."""

    class Meta:
        model = models.LicenseAssignment

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(DirectoryUserFactory, tenant=factory.SelfAttribute("..tenant"))
    product = factory.LazyFunction(lambda: product("AAD_PREMIUM"))
    created_at = factory.LazyFunction(timezone.now)


class UserLicenseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.UserLicense

    assignment = factory.SubFactory(LicenseAssignmentFactory)
    tenant = factory.SelfAttribute("assignment.tenant")
    user = factory.SelfAttribute("assignment.user")
    product = factory.SelfAttribute("assignment.product")
    state = models.LicenseState.ACTIVE
    last_updated = factory.LazyFunction(timezone.now)


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.AuditEvent

    tenant = factory.SubFactory(TenantFactory)
    actor_name = "admin@operator.example"
    activity = "Change user license"
    target_type = "User"
    target_name = "someone@contoso.onmicrosoft.com"
