"""Labels for stored enum values: the pages show words, the data keeps Azure's codes."""

from __future__ import annotations

from django import template

from licensing.models import LicenseError, LicenseState

register = template.Library()

_STATES = dict(LicenseState.choices)
_ERRORS = dict(LicenseError.choices)


@register.filter
def state_label(value: str) -> str:
    return _STATES.get(value, value)


@register.filter
def error_label(value: str) -> str:
    return _ERRORS.get(value, value)
