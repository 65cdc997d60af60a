"""Errors a service raises for bad input. Each message is written for the admin who caused it;
views show ``str(error)`` as it is. A service that raises has changed nothing."""

from __future__ import annotations

from django.contrib.humanize.templatetags.humanize import intcomma
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from licensing.models import LicenseError

# How many names a sentence lists before "and N more".
NAMES_SHOWN = 3


def names_and_more(names, total: int | None = None, *, shown: int = NAMES_SHOWN) -> str:
    """``names`` joined for a sentence: the first ``shown``, then "and N more", so a message
    or a note that names users stays a sentence when they are thousands. ``total``: how many
    there are in all, when ``names`` holds only the first of them (the rest unread)."""
    names = list(names)
    total = len(names) if total is None else total
    named = names[:shown]
    rest = total - len(named)
    if rest <= 0:
        return ", ".join(named)
    return ngettext("%(names)s and %(n)s more", "%(names)s and %(n)s more", rest) % {
        "names": ", ".join(named),
        "n": intcomma(rest),
    }


class LicensingError(Exception):
    """Base class: the operation was refused and nothing changed."""


class NotFound(LicensingError):
    """An id that does not exist in this tenant (another tenant's objects are not found)."""


class InvalidInput(LicensingError):
    """Malformed input: an id that is not a GUID, an unknown country code, a bad plan set."""


class NameTaken(InvalidInput):
    """A user principal name another user of the tenant has (SCIM answers 409 uniqueness)."""


class ProductNotAssignable(LicensingError):
    pass


class InsufficientSeats(LicensingError):
    def __init__(self, product, needed: int, available: int):
        self.product, self.needed, self.available = product, needed, available
        super().__init__(
            ngettext(
                "Not enough licenses for %(product)s: this assignment needs %(needed)s and "
                "%(available)s is available. Nothing was changed.",
                "Not enough licenses for %(product)s: this assignment needs %(needed)s and "
                "%(available)s are available. Nothing was changed.",
                max(available, 0),
            )
            % {
                "product": product.display_name,
                "needed": intcomma(needed),
                "available": intcomma(max(available, 0)),
            }
        )


class PlanConflict(LicensingError):
    """A plan set that enables mutually exclusive plans or breaks a dependency. ``code``:
    ``MutuallyExclusiveViolation`` or ``DependencyViolation``."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


class AssignmentRefused(LicensingError):
    """Some targets cannot get the license (named in the message); nothing changed.
    ``code``: the license error behind it (``CountViolation``, ``DependencyViolation``, …);
    ``skus``: the SKU ids of the licenses that would fail, when known."""

    def __init__(self, message: str, code: str = "", skus=()):
        super().__init__(message)
        self.code, self.skus = code, list(skus)


class DependencyRefused(AssignmentRefused):
    """The change would leave a license without a service plan it requires, or give a group an
    add-on without its prerequisite; the message names the plans."""

    def __init__(self, message: str, skus=()):
        super().__init__(message, code=str(LicenseError.DEPENDENCY), skus=skus)


class InheritedLicense(LicensingError):
    def __init__(self, groups: list):
        self.groups = groups
        super().__init__(
            _(
                "User license is inherited from group membership and cannot be removed "
                "directly from the user"
            )
        )


class GroupStillLicensed(LicensingError):
    pass


class ConcurrentChange(LicensingError):
    pass


class VersionChanged(LicensingError):
    """A change asked for on condition that the object still has a version it read (SCIM's
    ``If-Match``), which it no longer has: someone changed it since."""


# What a lost or refused database connection raises: psycopg's InterfaceError (a connection
# already closed), and OperationalError without an SQL state (no connection could be made)
# or with one of the connection's own (class 08, and 57P01–57P03: the server shuts down,
# crashed, cannot connect now). Other OperationalErrors (a statement timeout, a full disk, a
# lock not available) are faults of their own, answered and reported as errors.
CONNECTION_STATES = ("57P01", "57P02", "57P03")


def database_unavailable(error: BaseException | None) -> bool:
    """Whether this exception says the database is away (not a bad query or a bug)."""
    if isinstance(error, DatabaseError) and not isinstance(
        error, (OperationalError, InterfaceError)
    ):
        error = error.__cause__
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    state = getattr(error.__cause__, "sqlstate", None) or getattr(error, "sqlstate", None)
    return state is None or state.startswith("08") or state in CONNECTION_STATES
