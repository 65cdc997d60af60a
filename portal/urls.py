from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portal import language, oidc
from portal.signin import AdminSignInForm, PortalLoginView, admin_login
from portal.views import home

# The database being away answers 503 with Retry-After, not 500 (portal/unavailable.py).
handler500 = "portal.unavailable.server_error"

admin.site.login_form = AdminSignInForm
admin.site.login = admin_login

urlpatterns = [
    path("", home, name="home"),
    path("accounts/login/", PortalLoginView.as_view(), name="login"),
    path("accounts/refused/", oidc.refused, name="signin_refused"),
    path("oidc/", include(oidc.urlpatterns)),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", language.set_language, name="set_language"),
    path("scim/v2/<uuid:tenant_id>/", include("portal.scim.urls")),
    path("", include("portal.graph.urls")),
    path("", include("portal.portal_urls")),
    path("admin/", admin.site.urls),
]
