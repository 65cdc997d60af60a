from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portal.signin import AdminSignInForm, SignInForm
from portal.views import home

admin.site.login_form = AdminSignInForm

urlpatterns = [
    path("", home, name="home"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=SignInForm
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("portal.graph.urls")),
    path("", include("portal.portal_urls")),
    path("admin/", admin.site.urls),
]
