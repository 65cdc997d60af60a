"""Azure's names for the states of subscriptions and licenses, with their labels: the words
the rules decide in (``licensing.rules``) and the models store. Enumerations (Django's
TextChoices) and no models, so the rules can use them without importing the ORM."""

from __future__ import annotations

from django.db.models.enums import TextChoices
from django.utils.translation import gettext_lazy as _


class SubscriptionStatus(TextChoices):
    ENABLED = "Enabled", _("Enabled")
    WARNING = "Warning", _("Warning")
    SUSPENDED = "Suspended", _("Suspended")
    LOCKED_OUT = "LockedOut", _("LockedOut")


COUNTING_STATUSES = (SubscriptionStatus.ENABLED, SubscriptionStatus.WARNING)


class LicenseState(TextChoices):
    ACTIVE = "Active", _("Active")
    ACTIVE_WITH_ERROR = "ActiveWithError", _("Active with error")
    ERROR = "Error", _("Error")
    SUSPENDED = "Suspended", _("Suspended")


SEAT_STATES = (LicenseState.ACTIVE, LicenseState.ACTIVE_WITH_ERROR, LicenseState.SUSPENDED)


class LicenseError(TextChoices):
    NONE = "", _("None")
    COUNT = "CountViolation", _("Not enough licenses")
    MUTUALLY_EXCLUSIVE = "MutuallyExclusiveViolation", _("Conflicting service plans")
    DEPENDENCY = "DependencyViolation", _("A required service plan is missing")
    PROHIBITED_LOCATION = (
        "ProhibitedInUsageLocationViolation",
        _("Usage location isn't allowed"),
    )
    UNIQUENESS = "UniquenessViolation", _("Duplicate proxy addresses")
    OTHER = "Other", _("Other")
