from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from example_project.accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("a/<slug:account_slug>/", views.dashboard, name="dashboard"),
    path("invitations/", views.invitations, name="invitations"),
    path("invitations/<uuid:directory_user_id>/accept/", views.accept, name="accept-invitation"),
    path("admin/", admin.site.urls),
    # Django's set_language view, for the language picker in templates/base.html.
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("scim_portal.urls")),
]
