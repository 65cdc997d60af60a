from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def home(request: HttpRequest) -> HttpResponse:
    # Until the portal blades exist, the start page is the Django admin for support staff.
    return redirect("admin:index")
