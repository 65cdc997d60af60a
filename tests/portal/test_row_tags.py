"""The tags that build a long list's rows in Python (portal/templatetags/portal_tags.py) give
the markup Django's template engine gives for the same rows with the loop they replace: the
loops below are the reference, rendered by Django, with hostile names, in both languages."""

from __future__ import annotations

import datetime
import re
import uuid

import pytest
from django.template import engines
from django.utils import timezone, translation

from licensing.models import UserSource
from tests.factories import DirectoryUserFactory

pytestmark = pytest.mark.django_db

USER_ROWS = """{% load i18n %}{% for person in people %}
<tr><td><a href="{% url 'portal:user_licenses' person.public_id %}">{{ person.display_name }}</a></td><td>{{ person.user_principal_name }}</td>
<td>{{ person.get_source_display }}</td><td>{{ person.usage_location|default:"—" }}</td>
<td>{% if person.account_enabled %}{% translate "Yes" %}{% else %}{% translate "No" %}{% endif %}</td></tr>{% endfor %}"""

HOSTILE = ['<script>alert("x")</script>', "Zoë & 'Ann'", "a\u202eb", "{{ x }} {% y %}"]


def same_markup(text: str) -> str:
    return re.sub(r">\s+<", "><", text.strip())


@pytest.mark.parametrize("language", ["en", "nl"])
def test_user_rows_are_the_template_s_rows(tenant, language):
    people = [
        DirectoryUserFactory(
            tenant=tenant,
            display_name=name,
            user_principal_name=f"u{i}@contoso.example",
            usage_location=["", "NL", "US", ""][i],
            account_enabled=i % 2 == 0,
            source=[UserSource.CLOUD, UserSource.SYNCED][i % 2],
        )
        for i, name in enumerate(HOSTILE)
    ]
    with translation.override(language):
        ours = engines["django"].from_string("{% load portal_tags %}{% user_rows people %}")
        reference = engines["django"].from_string(USER_ROWS)
        assert same_markup(ours.render({"people": people})) == same_markup(
            reference.render({"people": people})
        )
        assert "<script>" not in ours.render({"people": people})


GROUP_ROWS = """{% load humanize portal_tags %}{% for group in groups %}
<tr><td><a href="{% url 'portal:group' group.public_id %}">{{ group.name }}</a></td><td>{{ group.description }}</td><td class="num">{{ group.member_count|intcomma }}</td><td>{{ group.get_processing_state_display }}</td>
<td class="num">{% if group.members_in_error %}<span class="badge badge-error">{{ group.members_in_error }}</span>{% else %}0{% endif %}</td></tr>{% endfor %}"""

MEMBER_ROWS = """{% load i18n %}{% for person in people %}
<tr>{% if selectable %}<td class="check"><input type="checkbox" name="user" value="{{ person.public_id }}" data-name="{{ person.display_name }}" aria-label="{% blocktranslate with name=person.display_name %}Select {{ name }}{% endblocktranslate %}"></td>{% endif %}
<td><a href="{% url 'portal:user_licenses' person.public_id %}">{{ person.display_name }}</a></td><td>{{ person.user_principal_name }}</td></tr>{% endfor %}"""

ERROR_ROWS = """{% for line in lines %}<tr><td><a href="{% url 'portal:user_licenses' line.user.public_id %}">{{ line.user.display_name }}</a></td><td>{{ line.user.user_principal_name }}</td><td>{{ line.failed|join:", " }}</td><td>{{ line.top_reason }}</td></tr>{% endfor %}"""

AUDIT_ROWS = """{% for event in events %}
<tr><td>{{ event.occurred_at|date:"SHORT_DATE_FORMAT" }} {{ event.occurred_at|time:"H:i:s" }}</td><td>{{ event.activity }}</td><td>{{ event.target_name }}</td><td>{{ event.actor_name }}</td>
<td>{% if event.details.summary %}{{ event.details.summary }}{% elif event.details.added or event.details.removed %}{% if event.details.added %}+ {{ event.details.added|join:", " }} {% endif %}{% if event.details.removed %}− {{ event.details.removed|join:", " }}{% endif %}{% endif %}</td></tr>{% endfor %}"""


def both(tag: str, reference: str, **context) -> tuple[str, str]:
    ours = engines["django"].from_string("{% load portal_tags %}" + tag).render(context)
    theirs = engines["django"].from_string(reference).render(context)
    assert "&lt;script&gt;" in ours and "<script>" not in ours
    return same_markup(ours), same_markup(theirs)


@pytest.mark.parametrize("language", ["en", "nl"])
def test_group_member_error_and_audit_rows_are_the_template_s_rows(tenant, language):
    from licensing.models import AuditEvent, Group, ProcessingState
    from licensing.selectors.groups import Member

    groups = [
        Group(
            public_id=uuid.uuid4(),
            name=name,
            description=HOSTILE[-1 - i],
            processing_state=list(ProcessingState)[i % len(ProcessingState)],
        )
        for i, name in enumerate(HOSTILE)
    ]
    for i, group in enumerate(groups):
        group.member_count, group.members_in_error = (
            [0, 7, 12_345, 1_234_567][i],
            [0, 3, 0, 4_321][i],
        )
    people = [Member(uuid.uuid4(), name, f"{name}@contoso.example") for name in HOSTILE]
    lines = [
        {"user": person, "failed": HOSTILE[: i + 1], "top_reason": reason}
        for i, (person, reason) in enumerate(
            zip(people, ["Not enough licenses", "<b>", "Ä & Ö", ""], strict=True)
        )
    ]
    moment = datetime.datetime(2026, 3, 29, 1, 30, 5, tzinfo=datetime.UTC)  # DST night
    events = [
        AuditEvent(
            occurred_at=moment + datetime.timedelta(hours=i),
            activity=name,
            target_name=HOSTILE[-1 - i],
            actor_name=name,
            details=details,
        )
        for i, (name, details) in enumerate(
            zip(
                HOSTILE,
                [
                    {"summary": "<i>x</i>"},
                    {"added": HOSTILE[:2]},
                    {"added": ["a"], "removed": HOSTILE},
                    ["odd"],
                ],
                strict=True,
            )
        )
    ]
    with translation.override(language), timezone.override("Europe/Amsterdam"):
        assert len({*both("{% group_rows groups %}", GROUP_ROWS, groups=groups)}) == 1
        for selectable in (True, False):
            ours, theirs = both(
                "{% member_rows people selectable %}",
                MEMBER_ROWS,
                people=people,
                selectable=selectable,
            )
            assert ours == theirs
        assert len({*both("{% error_rows lines %}", ERROR_ROWS, lines=lines)}) == 1
        assert len({*both("{% audit_rows events %}", AUDIT_ROWS, events=events)}) == 1
