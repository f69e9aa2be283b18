from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from riskops import views

handler404 = "riskops.views.not_found"

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the header's switch
    path("healthz", views.healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("monitoring.api.urls")),
    path("api/v1/", include("decisions.api.urls")),
    path("admin/", admin.site.urls),
    path("", views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("borrowers/", include("lending.urls")),
    path("decisions/", include("decisions.urls")),
    path("monitoring/", include("monitoring.urls")),
]
