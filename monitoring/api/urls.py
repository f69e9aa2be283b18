from __future__ import annotations

from django.urls import path

from monitoring.api.views import EventIngestApi

# Included under api/v1/ by riskops/urls.py, without a namespace: reverse("event-ingest").
urlpatterns = [
    path("events/", EventIngestApi.as_view(), name="event-ingest"),
]
