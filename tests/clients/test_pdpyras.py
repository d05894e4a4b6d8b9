"""pdpyras (the older PagerDuty Python client, still widely deployed) against Klaxon's REST API.

The core flow only: create, list across pages, find, update, delete, and a bad key.
"""

import secrets
import warnings

import pytest

from conftest import OWNER_EMAIL

with warnings.catch_warnings():
    # pdpyras warns on import that it is deprecated in favour of `pagerduty`; it still works.
    warnings.simplefilter("ignore")
    import pdpyras


def session_for(server, key=None) -> pdpyras.APISession:
    session = pdpyras.APISession(key or server.key, default_from=OWNER_EMAIL)
    # `url` is a plain attribute in pdpyras: pointing it at the server is the only change.
    session.url = server.url
    return session


@pytest.fixture
def session(klaxon):
    s = session_for(klaxon)
    yield s
    s.close()


def unique(prefix):
    return f"{prefix}-{secrets.token_hex(4)}"


def test_pdpyras_core_flow(session, klaxon):
    tag = unique("pdpyras").lower()
    users = [
        session.rpost("users", json={"type": "user", "name": f"{tag}-{i}", "email": f"{tag}-{i}@example.test"})
        for i in range(12)
    ]
    team = session.rpost("teams", json={"type": "team", "name": f"{tag}-team"})
    policy = session.rpost(
        "escalation_policies",
        json={
            "type": "escalation_policy",
            "name": f"{tag}-policy",
            "escalation_rules": [
                {"escalation_delay_in_minutes": 5, "targets": [{"id": users[0]["id"], "type": "user_reference"}]}
            ],
        },
    )
    service = session.rpost(
        "services",
        json={
            "type": "service",
            "name": f"{tag}-service",
            "escalation_policy": {"id": policy["id"], "type": "escalation_policy_reference"},
        },
    )
    integration = session.rpost(
        f"services/{service['id']}/integrations",
        json={"type": "events_api_v2_inbound_integration", "name": "Events v2"},
    )
    assert len(integration["integration_key"]) == 32

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. a page without `more`
        listed = list(session.iter_all("users", params={"query": tag}, page_size=5))
    assert sorted(u["id"] for u in listed) == sorted(u["id"] for u in users)

    assert session.find("teams", team["name"])["id"] == team["id"]
    assert session.find("users", users[3]["email"], attribute="email")["id"] == users[3]["id"]

    session.rput(service, json={"description": "updated by pdpyras"})
    assert session.rget(service)["description"] == "updated by pdpyras"

    session.rdelete(service)
    with pytest.raises(pdpyras.PDClientError) as err:
        session.rget(service)
    assert err.value.response.status_code == 404
    session.rdelete(policy)
    session.rdelete(team)
    assert session.find("teams", team["name"]) is None


def test_pdpyras_raises_on_a_bad_key(klaxon):
    bad = session_for(klaxon, key="wrong-key")
    with pytest.raises(pdpyras.PDClientError) as err:
        bad.rget("users")
    assert err.value.response.status_code == 401
