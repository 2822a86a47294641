from django.urls import include, path

urlpatterns = [
    # django-scim2 where the peer serves it; the app's SCIM URLs (/scim/v2/<connection id>/)
    # do not overlap with it.
    path("scim/v2/", include("django_scim.urls", namespace="scim")),
    path("", include("scim_portal.urls")),
]
