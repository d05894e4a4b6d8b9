#!/usr/bin/env python3
"""Helpers for the benchmark scripts (standard library only; loopback only; every loop bounded).

scripts/bench-events:

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

scripts/bench-oncalls:
  seed-oncalls URL KEY --policies 1000 --schedules 1000 --users 200 --threads 8
                            users, three-layer schedules and three-level escalation policies through the
                            REST API, concurrently; prints one JSON line {"policies": [ids], ...}
  oncalls URL KEY SEED_JSON --runs 10 --subset 100
                            times GET /oncalls (first page, all pages, 100 policies, earliest) in the
                            default window and over 7 days; prints a table, then one JSON line

scripts/bench-incidents:
  seed-incidents URL KEY --services 10 --users 40
                            users (POST /users), one schedule and one policy per service (level 1: the
                            schedule and a user), services with Events v2 integrations; prints one JSON line
  watch-incidents URL KEY SEED_JSON --count 10000 --timeout 120
                            polls the REST API until COUNT incidents exist, all assigned to their level-1
                            user, and (when GET /notifications answers 200) their notification intents;
                            prints one JSON line with the wall-clock instants each was first seen
"""

import argparse
import concurrent.futures
import datetime
import http.client
import json
import math
import secrets
import statistics
import sys
import threading
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

    def raw(self, method, path, body=None):
        """(status, body bytes, milliseconds from sending the request until its body was read)."""
        headers = {"Content-Type": "application/json", "Accept": "application/vnd.pagerduty+json;version=2"}
        if self.key:
            headers["Authorization"] = f"Token token={self.key}"
            headers["From"] = OWNER_EMAIL
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                start = time.perf_counter()
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, raw, (time.perf_counter() - start) * 1000
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)

    def request(self, method, path, body=None):
        status, raw, _ = self.raw(method, path, body)
        return status, (json.loads(raw) if raw else None)

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


# --- seeding over several connections -------------------------------------------------------------


def parallel(url, key, requests, threads):
    """Sends (method, path, body) requests over `threads` keep-alive connections; answers the parsed
    bodies in request order (the first failure exits)."""
    local = threading.local()

    def one(req):
        if not hasattr(local, "conn"):
            local.conn = Conn(url, key)
        return local.conn.ok(*req)

    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, requests))


ZONES = ["Europe/Berlin", "Europe/Berlin", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/London"]


def create_users(url, key, n, threads):
    tag = secrets.token_hex(3)
    reqs = [
        (
            "POST",
            "/users",
            {
                "user": {
                    "type": "user",
                    "name": f"Bench User {i:03d}",
                    "email": f"bench-{tag}-{i}@klaxon.bench",
                    "time_zone": ZONES[i % len(ZONES)],
                }
            },
        )
        for i in range(n)
    ]
    return [b["user"]["id"] for b in parallel(url, key, reqs, threads)]


def local_instant(zone, y, m, d, hour):
    """`y-m-d hour:00` on the wall clock of `zone`, with its offset (UTC if the tz database is missing)."""
    try:
        import zoneinfo

        tz = zoneinfo.ZoneInfo(zone)
    except Exception:  # no tz database: the anchor is then read as UTC
        tz = datetime.timezone.utc
    return datetime.datetime(y, m, d, hour, tzinfo=tz).isoformat()


def layer_users(ids):
    return [{"user": {"id": u, "type": "user_reference"}} for u in ids]


def schedule_request(name, zone, users):
    """A three-layer schedule over nine users: a weekly rotation of four handing off Monday 09:00 local,
    a daily rotation of three during business hours (daily restriction 08:00 for 10 h) laid over it, and
    a daily rotation of two on weekends (weekly restriction from Saturday 00:00 for 48 h) over both."""
    anchor = local_instant(zone, 2025, 1, 6, 9)  # a Monday
    layers = [
        {"name": "Weekly", "start": anchor, "rotation_virtual_start": anchor,
         "rotation_turn_length_seconds": 604800, "users": layer_users(users[0:4]), "restrictions": []},
        {"name": "Business hours", "start": anchor, "rotation_virtual_start": anchor,
         "rotation_turn_length_seconds": 86400, "users": layer_users(users[4:7]),
         "restrictions": [{"type": "daily_restriction", "start_time_of_day": "08:00:00", "duration_seconds": 36000}]},
        {"name": "Weekend", "start": anchor, "rotation_virtual_start": anchor,
         "rotation_turn_length_seconds": 86400, "users": layer_users(users[7:9]),
         "restrictions": [{"type": "weekly_restriction", "start_day_of_week": 6, "start_time_of_day": "00:00:00",
                           "duration_seconds": 172800}]},
    ]
    body = {"schedule": {"type": "schedule", "name": name, "time_zone": zone, "schedule_layers": layers}}
    return ("POST", "/schedules", body)


def policy_request(name, levels):
    """A policy whose levels target `levels` (each a list of ("schedule"|"user", id))."""
    rules = [
        {"escalation_delay_in_minutes": 15 * (i + 1),
         "targets": [{"id": id, "type": f"{kind}_reference"} for kind, id in targets]}
        for i, targets in enumerate(levels)
    ]
    body = {"escalation_policy": {"type": "escalation_policy", "name": name, "num_loops": 1,
                                  "escalation_rules": rules}}
    return ("POST", "/escalation_policies", body)


def create_schedules(url, key, users, count, threads, name):
    """`count` schedules of nine users each, taken from `users` in turn; zones from ZONES in turn."""
    reqs = [
        schedule_request(f"{name} {i:04d}", ZONES[i % len(ZONES)], [users[(9 * i + j) % len(users)] for j in range(9)])
        for i in range(count)
    ]
    return [b["schedule"]["id"] for b in parallel(url, key, reqs, threads)]


def cmd_seed_oncalls(a):
    """Policy i: level 1 schedule i, level 2 schedule i+1 (and a user on every third policy), level 3
    schedule i+2 and a user: every schedule is targeted three times, by three policies."""
    t0 = time.monotonic()
    users = create_users(a.url, a.key, a.users, a.threads)
    t1 = time.monotonic()
    schedules = create_schedules(a.url, a.key, users, a.schedules, a.threads, "Bench rotation")
    t2 = time.monotonic()
    n, s = len(users), len(schedules)
    reqs = []
    for i in range(a.policies):
        l1 = [("schedule", schedules[i % s])]
        l2 = [("schedule", schedules[(i + 1) % s])] + ([("user", users[(7 * i) % n])] if i % 3 == 0 else [])
        l3 = [("schedule", schedules[(i + 2) % s]), ("user", users[(11 * i + 5) % n])]
        reqs.append(policy_request(f"Bench policy {i:04d}", [l1, l2, l3]))
    policies = [b["escalation_policy"]["id"] for b in parallel(a.url, a.key, reqs, a.threads)]
    t3 = time.monotonic()
    print(json.dumps({"users": users, "schedules": schedules, "policies": policies,
                      "seconds": {"users": round(t1 - t0, 1), "schedules": round(t2 - t1, 1),
                                  "policies": round(t3 - t2, 1)}}))


# --- GET /oncalls -----------------------------------------------------------------------------------------


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def cmd_oncalls(a):
    with open(a.seed) as f:
        seed = json.load(f)
    rest = Conn(a.url, a.key, timeout=120)
    policies = seed["policies"]
    subset = policies[:: max(1, len(policies) // a.subset)][: a.subset]

    def get(params):
        status, raw, ms = rest.raw("GET", "/oncalls?" + urllib.parse.urlencode(params, doseq=True))
        if status != 200:
            sys.exit(f"GET /oncalls {params} -> {status} {raw[:300]!r}")
        return json.loads(raw), ms

    def one_page(params):
        def run():
            body, ms = get({**params, "limit": 100, "total": "true"})
            return ms, body["total"], ""

        return run

    def all_pages(params):
        def run():
            offset, ms, entries, pages = 0, 0.0, 0, 0
            while True:
                body, took = get({**params, "limit": 100, "offset": offset})
                ms, entries, pages = ms + took, entries + len(body["oncalls"]), pages + 1
                offset += 100
                if not body["more"]:
                    return ms, entries, f"{pages} pages"
                if offset + 100 > 10_000:  # PagerDuty's offset window: offset + limit <= 10,000
                    return ms, entries, f"{pages} pages, stopped at the 10,000 offset window"

        return run

    now = time.time()
    windows = [("now", {}), ("7 days", {"since": iso(now), "until": iso(now + 7 * 86400)})]
    cases = []
    for wname, w in windows:
        cases += [
            (wname, "(a) first page, total=true", one_page(w)),
            (wname, "(b) all pages", all_pages(w)),
            (wname, f"(c) escalation_policy_ids[] x{len(subset)}", one_page({**w, "escalation_policy_ids[]": subset})),
            (wname, "(d) earliest=true", one_page({**w, "earliest": "true"})),
        ]
    one_page(windows[0][1])()  # warm-up, not counted
    results = []
    print(f"{'window':<7} {'query':<34} {'runs':>4} {'best_ms':>9} {'median_ms':>9} {'entries':>8}  notes")
    for wname, label, run in cases:
        times, entries, note = [], None, ""
        started = time.monotonic()
        for _ in range(a.runs):
            ms, entries, note = run()
            times.append(ms)
            if time.monotonic() - started > a.budget:
                note += f"{'; ' if note else ''}stopped after {a.budget:.0f} s"
                break
        best, median = min(times), statistics.median(times)
        print(f"{wname:<7} {label:<34} {len(times):>4} {best:>9.1f} {median:>9.1f} {entries:>8}  {note}", flush=True)
        results.append({"window": wname, "query": label, "runs": len(times), "best_ms": round(best, 1),
                        "median_ms": round(median, 1), "entries": entries, "notes": note})
    print("JSON " + json.dumps(results))


# --- incidents through the Events API -------------------------------------------------------------------


def cmd_seed_incidents(a):
    """Service s: a three-layer schedule of nine users and its own direct user (in no schedule), a policy
    whose level 1 targets both and level 2 the owner; an Events v2 integration."""
    rest = Conn(a.url, a.key)
    owner = next(u for u in rest.ok("GET", "/users?" + urllib.parse.urlencode({"query": OWNER_EMAIL}))["users"]
                 if u["email"].lower() == OWNER_EMAIL)
    users = create_users(a.url, a.key, a.users, a.threads)
    direct, pool = users[: a.services], users[a.services:] or users
    schedules = create_schedules(a.url, a.key, pool, a.services, a.threads, "Bench incident rotation")
    reqs = [policy_request(f"Bench incident policy {s:03d}",
                           [[("schedule", schedules[s]), ("user", direct[s])], [("user", owner["id"])]])
            for s in range(a.services)]
    policies = [b["escalation_policy"]["id"] for b in parallel(a.url, a.key, reqs, a.threads)]
    reqs = [("POST", "/services", {"service": {"type": "service", "name": f"Bench incident service {s:03d}",
                                               "escalation_policy": {"id": policies[s],
                                                                     "type": "escalation_policy_reference"}}})
            for s in range(a.services)]
    services = [b["service"]["id"] for b in parallel(a.url, a.key, reqs, a.threads)]
    reqs = [("POST", f"/services/{sid}/integrations",
             {"integration": {"type": "events_api_v2_inbound_integration", "name": "bench"}}) for sid in services]
    keys = [b["integration"]["integration_key"] for b in parallel(a.url, a.key, reqs, a.threads)]
    print(json.dumps({"users": users, "direct_users": direct, "schedules": schedules, "policies": policies,
                      "services": services, "routing_keys": keys}))


def cmd_watch_incidents(a):
    """Polls every --poll-ms: the number of incidents, of those assigned to their level-1 direct user, and
    (if GET /notifications answers 200) of notification intents; prints the wall-clock instant (Unix
    seconds) at which each count first reached its target, and the counts."""
    with open(a.seed) as f:
        seed = json.load(f)
    rest = Conn(a.url, a.key)

    def total(path, params):
        status, body = rest.request("GET", path + "?" + urllib.parse.urlencode(params, doseq=True))
        return status, (body.get("total") if status == 200 and isinstance(body, dict) else None)

    base = {"total": "true", "limit": 1, "date_range": "all"}
    started = time.time()
    window = {"since": iso(started - 3600), "until": iso(started + 3 * 3600), "total": "true", "limit": 1}
    status, _ = total("/notifications", window)
    intents_available = status == 200
    expected_intents = a.count * a.intents_per_incident
    seen = {"created": None, "assigned": None, "intents": None}
    counts = {"created": 0, "assigned": 0, "intents": None}
    last_change, polls = time.monotonic(), 0
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        polls += 1
        now = time.time()
        _, created = total("/incidents", base)
        _, assigned = total("/incidents", {**base, "user_ids[]": seed["direct_users"]})
        got = {"created": created or 0, "assigned": assigned or 0}
        if intents_available:
            _, got["intents"] = total("/notifications", window)
            got["intents"] = got["intents"] or 0
        if any(got[k] != counts[k] for k in got):
            last_change = time.monotonic()
        counts.update(got)
        for k, target in (("created", a.count), ("assigned", a.count), ("intents", expected_intents)):
            if seen[k] is None and k in got and got[k] >= target:
                seen[k] = now
        done = seen["created"] and seen["assigned"] and (seen["intents"] or not intents_available)
        if done or (seen["assigned"] and time.monotonic() - last_change > a.stall):
            break
        time.sleep(a.poll_ms / 1000)
    print(json.dumps({"at": seen, "counts": counts, "expected_intents": expected_intents,
                      "intents_available": intents_available, "polls": polls, "poll_ms": a.poll_ms}))


def command(sub, name, *positional, **options):
    """A subcommand with positional arguments and `--options` (underscores become dashes) whose types are
    their defaults'; an option given as (default, help) has a help text."""
    s = sub.add_parser(name)
    for arg in positional:
        s.add_argument(arg)
    for option, value in options.items():
        default, text = value if isinstance(value, tuple) else (value, None)
        s.add_argument("--" + option.replace("_", "-"), type=type(default), default=default, help=text)
    return s


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    command(sub, "setup", "url", "key")
    s = command(sub, "prime", "url", "routing_key")
    s.add_argument("n", type=int)
    command(sub, "probe", "url", "key", "routing_key", count=200, seconds=25.0,
            timeout=(10.0, "per event: give up waiting for its incident"))
    command(sub, "drain", "url", "key", "routing_key", timeout=600.0)
    command(sub, "rss", "pid")
    command(sub, "seed-oncalls", "url", "key", policies=1000, schedules=1000, users=200, threads=8)
    command(sub, "oncalls", "url", "key", "seed", runs=10, subset=(100, "how many policies (c) names"),
            budget=(120.0, "seconds per query before fewer runs are made"))
    command(sub, "seed-incidents", "url", "key", services=10, users=40, threads=8)
    command(sub, "watch-incidents", "url", "key", "seed", count=10000, intents_per_incident=2, poll_ms=50.0,
            stall=(5.0, "stop once assigned and nothing changed this long"), timeout=120.0)
    a = p.parse_args()
    commands = {"setup": cmd_setup, "prime": cmd_prime, "probe": cmd_probe, "drain": cmd_drain, "rss": cmd_rss,
                "seed-oncalls": cmd_seed_oncalls, "oncalls": cmd_oncalls, "seed-incidents": cmd_seed_incidents,
                "watch-incidents": cmd_watch_incidents}
    commands[a.cmd](a)


if __name__ == "__main__":
    main()
