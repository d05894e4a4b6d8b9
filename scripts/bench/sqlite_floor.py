#!/usr/bin/env python3
"""The SQLite floor of the events write path: what the rows of one new-key event cost the database alone.

Run by scripts/bench-sqlite-floor, which makes DB (a fresh klaxon.db holding one escalation policy, one
service, one Events v2 integration and one user). Standard library only.

For each batch size it copies DB and writes, in batches of that size, exactly the rows that the server's
write path (klaxon-store/src/queries/event_processing.rs) writes for an event with a new dedup key, with the
same pragmas (WAL, synchronous=FULL, foreign keys on): the three fact queries, the counter update, one
inbox row (events), one incident, one alert, a trigger and an assign log entry and one assignment, then
COMMIT. No HTTP, no JSON parsing, no sqlx: Python's C sqlite3 module with prepared statements
(executemany). It prints microseconds of database time per event (best of five runs) and how many WAL pages each commit wrote;
then, at one batch size, the same without each kind of row, so that the share of each shows.

  sqlite_floor.py DB [--events 30000] [--batches 16,32,64,128] [--split-batch 32]
"""

import argparse
import json
import os
import shutil
import sqlite3
import tempfile
import time

def run(template, batch, events, without=(), synchronous="FULL", repeat=5):
    """Best of `repeat` runs (noise on a shared machine only ever adds time): (us per event, WAL pages per commit)."""
    return min(run_once(template, batch, events, without, synchronous) for _ in range(repeat))


def run_once(template, batch, events, without, synchronous):
    work = tempfile.mkdtemp(prefix="klaxon-floor-")
    try:
        db = os.path.join(work, "klaxon.db")
        shutil.copy(template, db)
        c = sqlite3.connect(db, isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute(f"PRAGMA synchronous={synchronous}")
        c.execute("PRAGMA foreign_keys=ON")
        c.execute("PRAGMA cache_size=-16000")
        c.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints below, counting the frames each one finds
        svc = c.execute("SELECT id FROM services").fetchone()[0]
        integ = c.execute("SELECT id FROM integrations").fetchone()[0]
        user = c.execute("SELECT id FROM users").fetchone()[0]
        ep = c.execute("SELECT id FROM escalation_policies").fetchone()[0]
        counter = 0

        def new_id():
            nonlocal counter
            counter += 1
            return "Q%013d" % counter

        db_seconds = 0.0
        written = 0
        checkpoint_every = max(1, 4000 // batch)  # keep the WAL bounded, as autocheckpoint would
        rounds = 0
        frames = 0
        while written < events:
            now = int(time.time() * 1000)
            keys = [f"new-{written + i}" for i in range(batch)]
            # Build the rows first: only database time is measured.
            inbox, incidents, alerts, entries, assignments = [], [], [], [], []
            for i, key in enumerate(keys):
                body = json.dumps({
                    "routing_key": "r" * 32, "event_action": "trigger", "dedup_key": key, "client": "wrk",
                    "payload": {"summary": f"bench: {key}", "source": "bench-host-1", "severity": "error",
                                "component": "bench", "custom_details": {"n": written + i, "mode": "new"}},
                })
                incident, alert, trigger_entry, assign_entry = new_id(), new_id(), new_id(), new_id()
                inbox.append((new_id(), "alert", now, integ, svc, key, body, now, "created"))
                incidents.append((incident, i, f"bench: {key}", f"bench: {key}", svc, ep, "triggered", "high", key,
                                  "escalation_policy", 1, '{"n":1,"mode":"new"}', trigger_entry, now,
                                  "integration_reference", integ, now, now))
                alerts.append((alert, incident, svc, integ, key, "triggered", 0, "error", f"bench: {key}",
                               "bench-host-1", "bench", None, None, '{"n":1,"mode":"new"}', "[]", "wrk", None, now,
                               1, trigger_entry, now, now, now))
                channel = json.dumps({"type": "api", "summary": f"bench: {key}", "details": {"n": 1, "mode": "new"},
                                      "severity": "error", "source": "bench-host-1", "component": "bench",
                                      "client": "wrk"})
                entries.append((trigger_entry, "trigger_log_entry", incident, alert, svc, "integration_reference",
                                integ, channel, None, "Triggered through the API", None, None, now))
                entries.append((assign_entry, "assign_log_entry", incident, None, svc, "service_reference", svc,
                                '{"type":"auto"}', None, "Assigned", user, '{"assignees":[]}', now))
                assignments.append((incident, user, now))
            started = time.perf_counter()
            c.execute("BEGIN IMMEDIATE")
            c.execute("SELECT s.id FROM services s WHERE s.id IN (?)", (svc,)).fetchall()
            c.execute("SELECT mw.id FROM maintenance_windows mw JOIN maintenance_window_services mws "
                      "ON mws.maintenance_window_id = mw.id WHERE mws.service_id IN (?)", (svc,)).fetchall()
            c.execute("SELECT a.id FROM alerts a WHERE a.status = 'triggered' AND a.alert_key IN (%s)"
                      % ",".join("?" * batch), keys).fetchall()
            if "incidents" not in without:
                c.execute("UPDATE counters SET value = value + ? WHERE name = 'incident_number'", (batch,))
                base = c.execute("SELECT value FROM counters WHERE name = 'incident_number'").fetchone()[0] - batch
                incidents = [row[:1] + (base + row[1] + 1,) + row[2:] for row in incidents]
                c.executemany(
                    "INSERT INTO incidents (id, incident_number, title, description, service_id, escalation_policy_id,"
                    " status, urgency, incident_key, assigned_via, escalation_level, body_details,"
                    " first_trigger_log_entry_id, last_status_change_at, last_status_change_by_type,"
                    " last_status_change_by_id, created_at, updated_at) VALUES (%s)" % ",".join("?" * 18), incidents)
            if "alerts" not in without:
                c.executemany(
                    "INSERT INTO alerts (id, incident_id, service_id, integration_id, alert_key, status, suppressed,"
                    " severity, summary, source, component, group_name, class, custom_details, contexts, client,"
                    " client_url, event_timestamp, trigger_count, first_trigger_log_entry_id, created_at, updated_at,"
                    " last_occurred_at) VALUES (%s)" % ",".join("?" * 23),
                    [a if "incidents" not in without else a[:1] + (None,) + a[2:] for a in alerts])
            if "inbox" not in without:
                c.executemany("INSERT INTO events (id, kind, received_at, integration_id, service_id, dedup_key, body,"
                              " processed_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", inbox)
            if "log_entries" not in without and "incidents" not in without:
                c.executemany("INSERT INTO log_entries (id, type, incident_id, alert_id, service_id, agent_type,"
                              " agent_id, channel, note, summary, user_id, details, created_at)"
                              " VALUES (%s)" % ",".join("?" * 13), entries)
            if "assignments" not in without and "incidents" not in without:
                c.executemany("INSERT INTO incident_assignments (incident_id, user_id, at) VALUES (?, ?, ?)",
                              assignments)
            c.execute("COMMIT")
            db_seconds += time.perf_counter() - started
            written += batch
            rounds += 1
            if rounds % checkpoint_every == 0:
                started = time.perf_counter()
                _, log_frames, _ = c.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                db_seconds += time.perf_counter() - started
                frames += log_frames
        frames += c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
        c.close()
        return db_seconds / written * 1e6, frames / rounds
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--events", type=int, default=30000)
    ap.add_argument("--batches", default="16,32,64,128")
    ap.add_argument("--split-batch", type=int, default=32)
    a = ap.parse_args()
    print(f"SQLite {sqlite3.sqlite_version} (Python's module), {a.events} new-key events per run")
    print(f"{'batch':>6} {'us/event':>9} {'events/s':>9} {'WAL pages/commit':>17}")
    for batch in [int(b) for b in a.batches.split(",")]:
        us, pages = run(a.db, batch, a.events)
        print(f"{batch:>6} {us:>9.1f} {1e6 / us:>9.0f} {pages:>17.1f}")
    print(f"\nat batch {a.split_batch}, what each kind of row costs (us/event saved when it is left out;")
    print("on a shared VM, differences of about 10 us either way are noise):")
    full, _ = run(a.db, a.split_batch, a.events)
    print(f"  {'all rows':<36} {full:>6.1f}")
    for label, without in [("inbox row (events)", ("inbox",)), ("2 log entries", ("log_entries",)),
                           ("assignment", ("assignments",)), ("incident, its entries, assignment", ("incidents",)),
                           ("alert", ("alerts",))]:
        us, _ = run(a.db, a.split_batch, a.events, without)
        print(f"  {label:<36} {full - us:>6.1f}")
    us, _ = run(a.db, a.split_batch, a.events, synchronous="NORMAL")
    print(f"  {'fsync per commit (FULL vs NORMAL)':<36} {full - us:>6.1f}")


if __name__ == "__main__":
    main()
