"""A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) paging Klaxon.

Its receiver's `pagerduty_configs` point `url` at Klaxon's `/v2/enqueue` (the Events API v2 path, the
only one Alertmanager lets users redirect). The alert is injected through Alertmanager's own API, as
Prometheus would; timings are shrunk (group_wait/group_interval 1s, repeat_interval 2s) so that
repeat notifications happen within seconds.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import free_port, register_log, unregister_log, wait_until

ALERTMANAGER = os.environ.get("KLAXON_ALERTMANAGER_BIN") or shutil.which("prometheus-alertmanager") or shutil.which(
    "alertmanager"
)


def alertmanager_version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    m = re.search(r"version (\d+)\.(\d+)\.(\d+)", out.stdout + out.stderr)
    assert m, f"cannot read the Alertmanager version from: {out.stdout}{out.stderr}"
    return tuple(int(x) for x in m.groups())


def rfc3339(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class Alertmanager:
    def __init__(self, binary: str, routing_key: str, klaxon_url: str):
        self.binary = binary
        self.version = alertmanager_version(binary)
        self.dir = Path(tempfile.mkdtemp(prefix="klaxon-am-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.dir / "alertmanager.log"
        # Every key below exists with this meaning in every Alertmanager since 0.20 (Debian ships 0.25+):
        # route timings, pagerduty_configs.routing_key (Events v2), url, send_resolved.
        repeat = "2s"
        config = f"""
route:
  receiver: klaxon
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: {repeat}
receivers:
  - name: klaxon
    pagerduty_configs:
      - routing_key: "{routing_key}"
        url: "{klaxon_url}/v2/enqueue"
        send_resolved: true
        severity: critical
"""
        (self.dir / "alertmanager.yml").write_text(config)
        self.proc = None

    def start(self):
        args = [
            self.binary,
            f"--config.file={self.dir / 'alertmanager.yml'}",
            f"--storage.path={self.dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",  # no gossip: a single, private instance
            "--log.level=debug",
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"alertmanager exited ({self.proc.returncode}):\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    return r.status == 200
            except (urllib.error.URLError, OSError):
                return False

        wait_until(ready, 30, what="Alertmanager to be ready")
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20000:]
        except OSError:
            return "(no log)"

    def post_alerts(self, alerts: list[dict]):
        req = urllib.request.Request(
            self.url + "/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200, r.status

    def metric(self, name: str, **labels) -> float:
        """Sum of a counter over the series whose labels include ``labels``."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name):
                continue
            m = re.match(rf"{re.escape(name)}(?:\{{(.*)\}})?\s+(\S+)$", line)
            if not m:
                continue
            found = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(m.group(2))
        return total

    def pagerduty_sent(self) -> float:
        return self.metric("alertmanager_notifications_total", integration="pagerduty")

    def pagerduty_failed(self) -> float:
        return self.metric("alertmanager_notifications_failed_total", integration="pagerduty")


@pytest.fixture
def alertmanager(klaxon, service):
    if not ALERTMANAGER:
        pytest.skip("prometheus-alertmanager is not installed (scripts/test-all installs it)")
    am = Alertmanager(ALERTMANAGER, service["routing_key"], klaxon.url)
    title = f"alertmanager {'.'.join(map(str, am.version))} log, tail"
    register_log(title, am.log)
    try:
        yield am.start()
    finally:
        unregister_log(title)
        am.stop()


def alert(name: str, ends_at: datetime, starts_at: datetime) -> dict:
    return {
        "labels": {"alertname": name, "instance": "db-1:9100", "severity": "critical"},
        "annotations": {"summary": "Disk almost full", "description": "/var at 97%"},
        "startsAt": rfc3339(starts_at),
        "endsAt": rfc3339(ends_at),
        "generatorURL": "http://prometheus.example.test/graph",
    }


def test_alertmanager_fires_repeats_and_resolves_one_incident(klaxon, service, alertmanager):
    service_id = service["service"]["id"]
    name = f"KlaxonDiskFull{secrets.token_hex(3)}"
    started = datetime.now(timezone.utc) - timedelta(seconds=5)

    alertmanager.post_alerts([alert(name, started + timedelta(hours=1), started)])

    incident = klaxon.wait_for_incident(timeout=20, service_ids=[service_id])
    assert incident["status"] == "triggered"
    assert name in incident["title"], incident["title"]
    assert incident["title"].startswith("[FIRING:1]"), incident["title"]
    key = incident["incident_key"]
    assert re.fullmatch(r"[0-9a-f]{64}", key or ""), f"Alertmanager's dedup_key is a SHA-256: {key!r}"

    # Let Alertmanager re-send the firing group several times (repeat_interval 2s).
    sent_at_first = alertmanager.pagerduty_sent()
    wait_until(lambda: alertmanager.pagerduty_sent() >= sent_at_first + 3, 30, interval=0.5,
               what="three repeat notifications from Alertmanager")
    assert alertmanager.pagerduty_failed() == 0, "Klaxon refused a notification (see the log above)"
    time.sleep(1)  # a repeat answered 202 just now is processed well within this
    incidents = klaxon.incidents(service_ids=[service_id])
    assert [i["id"] for i in incidents] == [incident["id"]], "repeat notifications must dedup onto one incident"
    assert klaxon.get(f"/incidents/{incident['id']}")["incident"]["status"] == "triggered"

    # The alert ends: Alertmanager sends a resolve with the same dedup_key.
    alertmanager.post_alerts([alert(name, datetime.now(timezone.utc), started)])
    resolved = klaxon.wait_for_status(incident["id"], "resolved", timeout=20)
    assert resolved["incident_key"] == key
    assert alertmanager.pagerduty_failed() == 0
    assert [i["id"] for i in klaxon.incidents(service_ids=[service_id])] == [incident["id"]]
