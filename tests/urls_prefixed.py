"""The app mounted under a prefix, as a host may: ``path("saas/", include(...))``."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("saas/", include("scim_portal.urls")),
]
