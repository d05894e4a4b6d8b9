"""The official PagerDuty Python client's Events API v2 client (`pagerduty.EventsApiV2Client`).

Events go in through the client; the outcome is checked through Klaxon's REST API.
"""

import secrets
from datetime import datetime, timezone

import pagerduty
import pytest

from conftest import wait_until


def events_client(server, routing_key) -> pagerduty.EventsApiV2Client:
    client = pagerduty.EventsApiV2Client(routing_key)
    # The `url` property setter accepts only https:// and the test server speaks plain http on
    # loopback, so we set the private attribute behind it; the client appends /v2/enqueue and
    # /v2/change/enqueue itself, exactly as it does for events.pagerduty.com.
    client._url = server.url
    return client


@pytest.fixture
def events(klaxon, service):
    with events_client(klaxon, service["routing_key"]) as client:
        yield client


def test_trigger_acknowledge_and_resolve_drive_the_incident(klaxon, service, events):
    dedup_key = events.trigger(
        "Disk full on db-1",
        "db-1.example.test",
        severity="critical",
        custom_details={"free": "1%", "mount": "/var", "load": 0.75, "nested": {"a": [1, 2]}},
        links=[{"href": "https://runbooks.example.test/disk", "text": "Runbook"}],
        payload={"component": "postgres", "group": "db", "class": "disk"},
    )
    assert isinstance(dedup_key, str) and dedup_key, "a trigger without a dedup_key gets one back"

    incident = klaxon.wait_for_incident(incident_key=dedup_key)
    assert incident["status"] == "triggered"
    assert incident["service"]["id"] == service["service"]["id"]
    assert incident["incident_key"] == dedup_key
    assert incident["title"] == "Disk full on db-1"
    assert incident["urgency"] == "high"

    assert events.acknowledge(dedup_key) == dedup_key
    acked = klaxon.wait_for_status(incident["id"], "acknowledged")
    assert acked["acknowledgements"], "an acknowledged incident lists its acknowledgement"

    assert events.resolve(dedup_key) == dedup_key
    resolved = klaxon.wait_for_status(incident["id"], "resolved")
    assert resolved["assignments"] == []
    assert len(klaxon.incidents(incident_key=dedup_key)) == 1


def test_a_repeated_trigger_while_open_creates_no_second_incident(klaxon, service, events):
    key = f"disk/{secrets.token_hex(4)}"
    assert events.trigger("CPU hot", "web-1", dedup_key=key) == key
    first = klaxon.wait_for_incident(incident_key=key)

    assert events.trigger("CPU hot (still)", "web-1", dedup_key=key, severity="error") == key
    assert events.trigger("CPU hot (still)", "web-1", dedup_key=key, severity="error") == key
    # Events with one dedup_key apply in arrival order: once this acknowledge shows, both repeated
    # triggers before it have been processed too.
    events.acknowledge(key)
    klaxon.wait_for_status(first["id"], "acknowledged")

    same_key = klaxon.incidents(incident_key=key)
    assert [i["id"] for i in same_key] == [first["id"]]
    on_service = klaxon.incidents(service_ids=[service["service"]["id"]])
    assert [i["id"] for i in on_service] == [first["id"]]


def test_a_trigger_after_resolve_opens_a_new_incident(klaxon, service, events):
    key = f"flap/{secrets.token_hex(4)}"
    events.trigger("Link down", "sw-1", dedup_key=key)
    first = klaxon.wait_for_incident(incident_key=key)
    events.resolve(key)
    klaxon.wait_for_status(first["id"], "resolved")

    events.trigger("Link down again", "sw-1", dedup_key=key)
    def two_incidents():
        found = klaxon.incidents(incident_key=key)
        return found if len(found) == 2 else None

    both = wait_until(two_incidents, 10, what="a second incident for the same dedup_key")
    second = [i for i in both if i["id"] != first["id"]][0]
    assert second["status"] == "triggered"
    assert second["incident_number"] > first["incident_number"]


def test_acknowledge_of_an_unknown_dedup_key_is_accepted_and_dropped(klaxon, service, events):
    key = f"ghost/{secrets.token_hex(4)}"
    # The client raises unless the answer is a success carrying `dedup_key`.
    assert events.acknowledge(key) == key
    assert events.resolve(key) == key
    assert klaxon.incidents(incident_key=key) == []


def test_change_events_are_accepted_and_listed_on_the_service(klaxon, service, events):
    service_id = service["service"]["id"]
    events.send_change_event(
        payload={
            "summary": "Deployed checkout v42",
            "source": "ci.example.test",
            "timestamp": "2026-01-02T03:04:05.678+0000",
            "custom_details": {"build": 42, "commit": "abc123"},
        },
        links=[{"href": "https://ci.example.test/builds/42", "text": "Build 42"}],
    )
    # `submit` builds its own payload. (Its default timestamp crashes inside pagerduty 7.2.0, so pass
    # one, in the format the client historically generated: isoformat() + "Z".)
    stamp = datetime.now(timezone.utc).replace(tzinfo=None).isoformat() + "Z"
    events.submit("Feature flag flipped", source="flags", custom_details={"flag": "new-cart"}, timestamp=stamp)

    def listed():
        body = klaxon.get(f"/services/{service_id}/change_events")
        summaries = {c["summary"] for c in body["change_events"]}
        return summaries if {"Deployed checkout v42", "Feature flag flipped"} <= summaries else None

    wait_until(listed, 10, what="both change events on the service")
    assert klaxon.incidents(service_ids=[service_id]) == [], "change events never open incidents"


def test_an_unknown_routing_key_is_rejected(klaxon):
    with events_client(klaxon, secrets.token_hex(16)) as client:
        with pytest.raises(pagerduty.HttpError) as err:
            client.trigger("nobody listens", "nowhere")
    assert err.value.response.status_code == 400
    body = err.value.response.json()
    assert body["status"] == "invalid event"
    assert body["errors"], body
