from __future__ import annotations

import pytest

from monitoring.models import Event
from monitoring.services import event_ingest
from monitoring.tests.factories import LineOpenedEventFactory

pytestmark = pytest.mark.django_db


def test_the_event_admin_is_read_only_and_masks_personal_data(client, admin_user):
    event = LineOpenedEventFactory(
        name="李四", national_id="110101199003071238", mobile="13912345678"
    )
    event_ingest(actor=admin_user, events=[event])
    stored = Event.objects.get()
    client.force_login(admin_user)

    listing = client.get("/admin/monitoring/event/")
    page = client.get(f"/admin/monitoring/event/{stored.pk}/change/")

    assert listing.status_code == 200
    assert page.status_code == 200
    html = page.content.decode()
    assert "110101********1238" in html
    assert "139****5678" in html
    assert "110101199003071238" not in html
    assert "13912345678" not in html
    assert 'name="_save"' not in html  # nothing to save: the record is what was sent
    assert client.get("/admin/monitoring/event/add/").status_code == 403
