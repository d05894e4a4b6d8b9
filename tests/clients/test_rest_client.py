"""The official PagerDuty Python client (PyPI `pagerduty`) against Klaxon's REST API.

Everything here goes through `pagerduty.RestApiV2Client` exactly as a PagerDuty user would call it,
with one difference: the base URL. See :func:`rest_client`.
"""

import re
import secrets
import warnings

import pagerduty
import pytest

from conftest import OWNER_EMAIL


def rest_client(server, key=None) -> pagerduty.RestApiV2Client:
    client = pagerduty.RestApiV2Client(key or server.key, default_from=OWNER_EMAIL)
    # The client's `url` property setter refuses any base URL that is not https://, and the test
    # server listens on plain http on loopback. We set the private attribute behind that property:
    # this is the ONLY change to the client (its path handling, wrapping and pagination are untouched).
    client._url = server.url
    return client


@pytest.fixture
def client(klaxon):
    with rest_client(klaxon) as c:
        yield c


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def new_user(client, name=None, **fields):
    name = name or unique("user")
    body = {"type": "user", "name": name, "email": f"{name.lower()}@example.test"}
    body.update(fields)
    return client.rpost("users", json=body)


def new_policy(client, user, name=None, **fields):
    body = {
        "type": "escalation_policy",
        "name": name or unique("policy"),
        "escalation_rules": [
            {"escalation_delay_in_minutes": 10, "targets": [{"id": user["id"], "type": "user_reference"}]}
        ],
    }
    body.update(fields)
    return client.rpost("escalation_policies", json=body)


def new_service(client, policy, name=None, **fields):
    body = {
        "type": "service",
        "name": name or unique("service"),
        "escalation_policy": {"id": policy["id"], "type": "escalation_policy_reference"},
    }
    body.update(fields)
    return client.rpost("services", json=body)


def iter_all_strict(client, path, **kw):
    """`iter_all`, but the client's warnings (e.g. a page without `more`) fail the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return list(client.iter_all(path, **kw))


def test_creates_user_team_policy_service_and_integration(client, klaxon):
    user = new_user(client, job_title="SRE")
    assert user["type"] == "user"
    assert re.fullmatch(r"P[A-Z0-9]{6}", user["id"]), user["id"]
    assert user["self"] == f"{klaxon.url}/users/{user['id']}"

    team = client.rpost("teams", json={"type": "team", "name": unique("team"), "description": "Databases"})
    assert team["type"] == "team"
    # PUT /teams/{id}/users/{user_id} answers 204; the client returns None for it.
    assert client.rput(f"teams/{team['id']}/users/{user['id']}", json={"role": "manager"}) is None
    members = client.rget(f"teams/{team['id']}/members")
    assert [m["user"]["id"] for m in members] == [user["id"]]

    policy = new_policy(client, user, teams=[{"id": team["id"], "type": "team_reference"}])
    assert policy["type"] == "escalation_policy"
    rule = policy["escalation_rules"][0]
    assert rule["escalation_delay_in_minutes"] == 10
    assert [(t["id"], t["type"]) for t in rule["targets"]] == [(user["id"], "user_reference")]
    assert [t["id"] for t in policy["teams"]] == [team["id"]]

    service = new_service(client, policy, description="Checkout", acknowledgement_timeout=600)
    assert service["type"] == "service"
    assert service["escalation_policy"]["id"] == policy["id"]
    assert service["escalation_policy"]["type"] == "escalation_policy_reference"
    assert service["acknowledgement_timeout"] == 600
    assert service["status"] == "active"

    integration = client.rpost(
        f"services/{service['id']}/integrations",
        json={"type": "events_api_v2_inbound_integration", "name": "Prometheus"},
    )
    assert integration["type"] == "events_api_v2_inbound_integration"
    assert re.fullmatch(r"[0-9a-f]{32}", integration["integration_key"]), integration

    # Following `self` links works because they live under the client's base URL.
    again = client.rget(service, params={"include": ["integrations"]})
    assert again["id"] == service["id"]
    assert integration["id"] in [i["id"] for i in again["integrations"]]
    path = f"services/{service['id']}/integrations/{integration['id']}"
    shown = client.rget(path)
    assert shown["integration_key"] == integration["integration_key"]

    renamed = client.rput(path, json={"type": "events_api_v2_inbound_integration", "name": "Prometheus (prod)"})
    assert renamed["name"] == "Prometheus (prod)"
    assert renamed["integration_key"] == integration["integration_key"], "a rename keeps the routing key"
    client.rdelete(path)
    with pytest.raises(pagerduty.HttpError) as err:
        client.rget(path)
    assert err.value.response.status_code == 404


def test_iter_all_pages_through_users_without_gaps_or_duplicates(client):
    prefix = unique("pager").lower()
    created = {new_user(client, name=f"{prefix}-{i:02d}")["id"] for i in range(31)}
    assert len(created) == 31

    # The server really splits the result into pages of the requested size.
    first = client.get("users", params={"query": prefix, "limit": 7, "offset": 0}).json()
    assert len(first["users"]) == 7
    assert first["more"] is True
    assert first["total"] is None

    listed = iter_all_strict(client, "users", params={"query": prefix}, page_size=7)
    ids = [u["id"] for u in listed]
    assert len(ids) == len(set(ids)), "a user was listed twice"
    assert set(ids) == created

    assert client.get_total("users", params={"query": prefix}) == 31
    everyone = iter_all_strict(client, "users", page_size=10)
    everyone_ids = [u["id"] for u in everyone]
    assert len(everyone_ids) == len(set(everyone_ids))
    assert created <= set(everyone_ids)
    assert OWNER_EMAIL in [u["email"] for u in everyone]


def test_iter_all_pages_through_teams_policies_and_services(client):
    tag = unique("multi").lower()
    owner = new_user(client)
    teams = {client.rpost("teams", json={"type": "team", "name": f"{tag}-team-{i}"})["id"] for i in range(3)}
    policies = [new_policy(client, owner, name=f"{tag}-policy-{i}") for i in range(3)]
    services = {new_service(client, p, name=f"{tag}-service-{i}")["id"] for i, p in enumerate(policies)}

    assert {t["id"] for t in iter_all_strict(client, "teams", params={"query": tag}, page_size=2)} == teams
    listed_policies = iter_all_strict(client, "escalation_policies", params={"query": tag}, page_size=2)
    assert sorted(p["id"] for p in listed_policies) == sorted(p["id"] for p in policies)
    listed_services = iter_all_strict(client, "services", params={"query": tag}, page_size=2)
    assert sorted(s["id"] for s in listed_services) == sorted(services)


def test_find_matches_exactly_and_returns_none_when_absent(client):
    user = new_user(client)
    team = client.rpost("teams", json={"type": "team", "name": unique("Find Team")})
    policy = new_policy(client, user, name=unique("Find Policy"))

    assert client.find("users", user["email"], attribute="email")["id"] == user["id"]
    # `find` compares case-insensitively and relies on the server's case-insensitive `query`.
    assert client.find("teams", team["name"].upper())["id"] == team["id"]
    assert client.find("escalation_policies", policy["name"])["id"] == policy["id"]
    assert client.find("teams", unique("no-such-team")) is None


def test_rget_and_rput_update_resources(client):
    user = new_user(client)
    updated = client.rput(user, json={"name": "Renamed User", "job_title": "Incident Commander"})
    assert updated["name"] == "Renamed User"
    fetched = client.rget(f"users/{user['id']}")
    assert fetched["name"] == "Renamed User"
    assert fetched["job_title"] == "Incident Commander"
    assert fetched["email"] == user["email"], "fields absent from a PUT are left alone"

    team = client.rpost("teams", json={"type": "team", "name": unique("team")})
    client.rput(team, json={"description": "Owns the database"})
    assert client.rget(team)["description"] == "Owns the database"

    policy = new_policy(client, user)
    client.rput(policy, json={"name": policy["name"] + " v2", "num_loops": 2})
    policy_after = client.rget(policy)
    assert policy_after["name"] == policy["name"] + " v2"
    assert policy_after["num_loops"] == 2

    service = new_service(client, policy, acknowledgement_timeout=600)
    client.rput(service, json={"description": "Payments", "acknowledgement_timeout": None})
    service_after = client.rget(service)
    assert service_after["description"] == "Payments"
    assert service_after["acknowledgement_timeout"] is None, "null clears the timeout"
    assert service_after["escalation_policy"]["id"] == policy["id"]


def test_rdelete_removes_resources_and_later_reads_are_404(client):
    user = new_user(client)
    team = client.rpost("teams", json={"type": "team", "name": unique("team")})
    policy = new_policy(client, user)
    service = new_service(client, policy)

    for resource in (service, policy, team, user):
        response = client.rdelete(resource)
        assert response.status_code == 204, (resource["self"], response.status_code, response.text)
        with pytest.raises(pagerduty.HttpError) as err:
            client.rget(resource)
        assert err.value.response.status_code == 404
        body = err.value.response.json()
        assert isinstance(body["error"]["message"], str)

    assert client.find("teams", team["name"]) is None


def test_deleting_a_policy_in_use_is_refused(client):
    policy = new_policy(client, new_user(client))
    service = new_service(client, policy)
    with pytest.raises(pagerduty.HttpError) as err:
        client.rdelete(policy)
    assert 400 <= err.value.response.status_code < 500
    assert client.rget(service)["escalation_policy"]["id"] == policy["id"]
    assert client.rget(policy)["id"] == policy["id"]


def test_bad_input_raises_with_a_message_naming_the_field(client):
    with pytest.raises(pagerduty.HttpError) as err:
        client.rpost("teams", json={"type": "team", "description": "no name"})
    assert err.value.response.status_code == 400
    error = err.value.response.json()["error"]
    assert any("name" in line for line in error["errors"]), error


def test_the_client_raises_on_a_bad_key(klaxon):
    with rest_client(klaxon, key="not-a-valid-key") as bad:
        with pytest.raises(pagerduty.HttpError) as err:
            bad.rget("users")
    assert err.value.response.status_code == 401
    assert "error" in err.value.response.json()
