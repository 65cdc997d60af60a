"""Deleted users and the directory sync upload (Global administrator)."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

from django.contrib.humanize.templatetags.humanize import intcomma
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from licensing import selectors, services
from licensing.errors import LicensingError
from licensing.models import DirectoryUser
from licensing.services.directory import RESTORE_WINDOW
from licensing.services.sync import SyncFileError, sync_directory
from portal.access import portal_view, require_directory_admin
from portal.responses import command_done, found, template_for

UPLOAD_LIMIT = 5 * 1024 * 1024
SESSION_UPLOAD = "directory_sync_upload"
# A previewed file waits this long for Import.
PENDING_FOR = timedelta(hours=1)


@require_safe
@portal_view
def deleted_users(request: HttpRequest) -> HttpResponse:
    """Soft-deleted users, like Azure's Deleted users: when, and how many days are left."""
    page = selectors.users.deleted_users(tenant=request.tenant, page=request.GET.get("page", 1))
    now = timezone.now()
    rows = [
        {
            "user": u,
            "purge_on": u.soft_deleted_at + RESTORE_WINDOW,
            "days_left": max((u.soft_deleted_at + RESTORE_WINDOW - now) // timedelta(days=1), 0),
        }
        for u in page.object_list
    ]
    context = {"section": "users", "page": page, "rows": rows, "tab": "deleted"}
    return render(
        request, template_for(request, "portal/users/deleted.html", "deleted-rows"), context
    )


def _deleted_user(request: HttpRequest, user_id) -> DirectoryUser:
    return found(selectors.users.deleted_user(tenant=request.tenant, public_id=user_id))


@require_POST
@portal_view
def restore_user(request: HttpRequest, user_id) -> HttpResponse:
    require_directory_admin(request)
    user = _deleted_user(request, user_id)
    errors = services.user_restore(tenant=request.tenant, user=user, actor=request.user)
    text = _("Restored %(user)s.") % {"user": user.display_name}
    if errors:
        text += " " + ngettext(
            "%(n)s license has no seat left (Not enough licenses).",
            "%(n)s licenses have no seat left (Not enough licenses).",
            errors,
        ) % {"n": intcomma(errors)}
    return command_done(
        request, text, reverse("portal:deleted_users"), level="warning" if errors else "success"
    )


@require_POST
@portal_view
def delete_permanently(request: HttpRequest, user_id) -> HttpResponse:
    require_directory_admin(request)
    user = _deleted_user(request, user_id)
    services.user_delete_permanently(tenant=request.tenant, user=user, actor=request.user)
    text = _("Deleted %(user)s permanently; their licenses are free.") % {"user": user.display_name}
    return command_done(request, text, reverse("portal:deleted_users"))


@require_http_methods(["GET", "POST"])
@portal_view
def sync_upload(request: HttpRequest) -> HttpResponse:
    """Upload a directory export, see the dry run, then import: the sync_directory code.

    The previewed file waits in the session bound to its tenant and its SHA-256, for an
    hour at most; Import names the hash it was shown, and applies only that file, only to
    that tenant, planned afresh. Anything else (another tenant chosen meanwhile in another
    tab, another preview since, an expired one) is refused and changes nothing.
    """
    require_directory_admin(request)
    context = {"section": "users", "tab": "sync"}
    action = request.POST.get("action", "preview") if request.method == "POST" else None
    if action == "cancel":
        request.session.pop(SESSION_UPLOAD, None)
        return command_done(request, _("The preview was discarded."), reverse("portal:sync_upload"))
    if action == "import":
        done = _import(request, context)
        if done is not None:
            return done
    elif action is not None:
        context.update(_preview(request))
    return render(request, "portal/users/sync.html", context)


def _import(request: HttpRequest, context: dict) -> HttpResponse | None:
    """Import the previewed file: the answer when it is done, else None with the problems in
    ``context``."""
    try:
        data = _pending_import(request)
        result = sync_directory(tenant=request.tenant, data=data, actor=request.user)
    except LicensingError as refused:
        context["problems"] = getattr(refused, "problems", None) or [(None, str(refused))]
        return None
    request.session.pop(SESSION_UPLOAD, None)
    summary = ", ".join(f"{k}: {v}" for k, v in result.plan.summary().items())
    return command_done(
        request, _("Synchronized: %(s)s") % {"s": summary}, reverse("portal:users"), navigate=True
    )


def _preview(request: HttpRequest) -> dict:
    upload = request.FILES.get("export")
    if upload is None:
        return {"problems": [(None, _("Choose a CSV file to upload."))]}
    if upload.size > UPLOAD_LIMIT:
        return {
            "problems": [
                (None, _("The file is larger than 5 MB: import it with manage.py sync_directory."))
            ]
        }
    data = upload.read()
    try:
        result = sync_directory(tenant=request.tenant, data=data, actor=request.user, dry_run=True)
    except SyncFileError as refused:
        return {"problems": refused.problems}
    except LicensingError as refused:
        return {"problems": [(None, str(refused))]}
    digest = hashlib.sha256(data).hexdigest()
    request.session[SESSION_UPLOAD] = {
        "tenant": str(request.tenant.public_id),
        "sha256": digest,
        "at": timezone.now().timestamp(),
        "data": base64.b64encode(data).decode(),
    }
    return {
        "preview": result.plan.describe(),
        "summary": result.plan.summary(),
        "filename": upload.name,
        "sha256": digest,
    }


def _pending_import(request: HttpRequest) -> bytes:
    """The previewed file, if it is this tenant's and the one the admin saw; else refuse."""
    pending = request.session.get(SESSION_UPLOAD)
    if not isinstance(pending, dict) or (
        timezone.now().timestamp() - pending.get("at", 0) > PENDING_FOR.total_seconds()
    ):
        request.session.pop(SESSION_UPLOAD, None)
        raise LicensingError(_("Upload the file again: the preview has expired."))
    if pending.get("tenant") != str(request.tenant.public_id):
        raise LicensingError(
            _(
                "This preview was made for another organization. Switch back to it, or upload "
                "the file again for %(tenant)s."
            )
            % {"tenant": request.tenant.name}
        )
    if request.POST.get("sha256") != pending.get("sha256"):
        raise LicensingError(
            _("The file previewed on this page is no longer the one waiting: preview it again.")
        )
    return base64.b64decode(pending["data"])
