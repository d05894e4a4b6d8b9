#!/usr/bin/env python3
"""Helpers for scripts/bench-events (standard library only; loopback only; every loop bounded).

  setup  URL KEY            create an escalation policy, a service and an Events v2 integration;
                            prints "ROUTING_KEY SERVICE_ID"
  prime  URL ROUTING_KEY N  trigger open-1..open-N (the keys that the "repeat" load repeats)
  probe  URL KEY ROUTING_KEY --count 200 --seconds 25
                            accepted-to-incident latency: sends --count triggers spread over --seconds,
                            and for each polls GET /incidents?incident_key=<key> from the moment its
                            202 arrived until the incident is readable; prints one JSON line
  drain  URL KEY ROUTING_KEY --timeout 600
                            sends one marker trigger and waits until its incident is readable (used
                            after a run to wait until the backlog is processed)
  rss    PID                prints "VmRSS_kB VmHWM_kB" of the process
"""

import argparse
import http.client
import json
import math
import secrets
import sys
import time
import urllib.parse

OWNER_EMAIL = "admin@klaxon.local"


class Conn:
    """One keep-alive HTTP connection to the server, reopened on failure."""

    def __init__(self, url, key=None, timeout=30):
        u = urllib.parse.urlsplit(url)
        assert u.hostname in ("127.0.0.1", "localhost", "::1"), "the benchmark talks to loopback only"
        self.host, self.port, self.key, self.timeout = u.hostname, u.port, key, timeout
        self.conn = None

    def request(self, method, path, body=None):
        headers = {"Content-Type": "application/json", "Accept": "application/vnd.pagerduty+json;version=2"}
        if self.key:
            headers["Authorization"] = f"Token token={self.key}"
            headers["From"] = OWNER_EMAIL
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)

    def ok(self, method, path, body=None):
        status, parsed = self.request(method, path, body)
        if status >= 300:
            sys.exit(f"{method} {path} -> {status} {parsed}")
        return parsed


def trigger(events, routing_key, dedup_key, summary):
    body = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": summary, "source": "bench-probe", "severity": "error"},
    }
    return events.request("POST", "/v2/enqueue", body)


def cmd_setup(a):
    rest = Conn(a.url, a.key)
    users = rest.ok("GET", "/users?" + urllib.parse.urlencode({"query": OWNER_EMAIL}))["users"]
    owner = next(u for u in users if u["email"].lower() == OWNER_EMAIL)
    tag = secrets.token_hex(3)
    ep = rest.ok(
        "POST",
        "/escalation_policies",
        {
            "escalation_policy": {
                "type": "escalation_policy",
                "name": f"bench policy {tag}",
                "escalation_rules": [
                    {"escalation_delay_in_minutes": 30, "targets": [{"id": owner["id"], "type": "user_reference"}]}
                ],
            }
        },
    )["escalation_policy"]
    svc = rest.ok(
        "POST",
        "/services",
        {
            "service": {
                "type": "service",
                "name": f"bench service {tag}",
                "escalation_policy": {"id": ep["id"], "type": "escalation_policy_reference"},
            }
        },
    )["service"]
    integration = rest.ok(
        "POST",
        f"/services/{svc['id']}/integrations",
        {"integration": {"type": "events_api_v2_inbound_integration", "name": "bench"}},
    )["integration"]
    print(integration["integration_key"], svc["id"])


def cmd_prime(a):
    events = Conn(a.url)
    for i in range(1, a.n + 1):
        status, body = trigger(events, a.routing_key, f"open-{i}", f"bench: open-{i}")
        if status != 202:
            sys.exit(f"priming open-{i}: {status} {body}")


def incident_visible(rest, key):
    status, body = rest.request("GET", "/incidents?" + urllib.parse.urlencode({"incident_key": key}))
    if status in (401, 403, 404, 405):
        sys.exit(f"GET /incidents answered {status}: cannot observe incidents ({body})")
    return status == 200 and bool(body.get("incidents"))


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    # Nearest rank.
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return round(sorted_values[k], 2)


def cmd_probe(a):
    events, rest = Conn(a.url), Conn(a.url, a.key)
    interval = max(0.01, a.seconds / a.count)
    run = secrets.token_hex(4)
    latencies, missing, refused, statuses = [], 0, 0, {}
    deadline = time.monotonic() + a.seconds + a.timeout + 5
    start = time.monotonic()
    for n in range(a.count):
        if time.monotonic() > deadline:
            break
        # Keep the schedule: event n leaves at start + n * interval (or at once when late).
        delay = start + n * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        key = f"probe-{run}-{n}"
        status, _ = trigger(events, a.routing_key, key, f"bench probe {n}")
        statuses[status] = statuses.get(status, 0) + 1
        if status != 202:
            refused += 1
            continue
        accepted = time.monotonic()
        until = accepted + a.timeout
        while True:
            if incident_visible(rest, key):
                latencies.append((time.monotonic() - accepted) * 1000)
                break
            if time.monotonic() > until:
                missing += 1
                break
            time.sleep(0.002)
    latencies.sort()
    print(
        json.dumps(
            {
                "sent": sum(statuses.values()),
                "statuses": statuses,
                "visible": len(latencies),
                "not_visible_within_timeout": missing,
                "refused": refused,
                "p50_ms": percentile(latencies, 50),
                "p99_ms": percentile(latencies, 99),
                "max_ms": latencies[-1] if latencies else None,
            }
        )
    )


def cmd_drain(a):
    events, rest = Conn(a.url), Conn(a.url, a.key)
    key = f"drain-{secrets.token_hex(4)}"
    start = time.monotonic()
    while True:
        status, body = trigger(events, a.routing_key, key, "bench drain marker")
        if status == 202:
            break
        if time.monotonic() - start > a.timeout:
            sys.exit(f"drain marker refused: {status} {body}")
        time.sleep(0.5)
    while not incident_visible(rest, key):
        if time.monotonic() - start > a.timeout:
            sys.exit(f"backlog not drained within {a.timeout}s")
        time.sleep(0.1)
    print(f"{time.monotonic() - start:.1f}")


def cmd_rss(a):
    fields = {}
    with open(f"/proc/{a.pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.split()[0] if v.split() else "0"
    print(fields.get("VmRSS", "0"), fields.get("VmHWM", "0"))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("url")
    s.add_argument("key")
    s = sub.add_parser("prime")
    s.add_argument("url")
    s.add_argument("routing_key")
    s.add_argument("n", type=int)
    s = sub.add_parser("probe")
    s.add_argument("url")
    s.add_argument("key")
    s.add_argument("routing_key")
    s.add_argument("--count", type=int, default=200)
    s.add_argument("--seconds", type=float, default=25)
    s.add_argument("--timeout", type=float, default=10, help="per event: give up waiting for its incident")
    s = sub.add_parser("drain")
    s.add_argument("url")
    s.add_argument("key")
    s.add_argument("routing_key")
    s.add_argument("--timeout", type=float, default=600)
    s = sub.add_parser("rss")
    s.add_argument("pid")
    a = p.parse_args()
    {"setup": cmd_setup, "prime": cmd_prime, "probe": cmd_probe, "drain": cmd_drain, "rss": cmd_rss}[a.cmd](a)


if __name__ == "__main__":
    main()
