"""Shared fixtures for the real-client suite.

The suite drives a real `klaxon serve` process (the binary named by ``KLAXON_BIN``, default
``target/debug/klaxon``) with the official PagerDuty Python clients and with Prometheus
Alertmanager. Each test module gets its own server on a free loopback port, on SQLite (default) or
on a fresh PostgreSQL database when ``KLAXON_TEST_BACKEND=postgres`` (the database is created on
``KLAXON_TEST_POSTGRES_URL`` with ``psql`` and dropped afterwards).

Set-up that is not under test (escalation policies, services, integrations) goes through plain
HTTP (``urllib``) so that a client's quirks never hide a server bug and vice versa.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OWNER_EMAIL = "admin@klaxon.local"

# Every request of this suite goes to a loopback address: never through a proxy.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

# Logs of the processes alive right now (title -> reader), attached to a failing test's report.
_LIVE_LOGS: dict[str, object] = {}


# Background `DROP DATABASE` commands, waited for when the session ends.
_PENDING_DROPS: list[subprocess.Popen] = []


def register_log(title: str, reader):
    _LIVE_LOGS[title] = reader


def unregister_log(title: str):
    _LIVE_LOGS.pop(title, None)


def klaxon_bin() -> str:
    path = os.environ.get("KLAXON_BIN") or str(ROOT / "target" / "debug" / "klaxon")
    if not os.path.isfile(path):
        pytest.exit(f"Klaxon binary {path} not found: run `cargo build -p klaxon` or set KLAXON_BIN", returncode=2)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Polls ``predicate`` until it returns a truthy value (returned) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")
        time.sleep(interval)


class HttpResult:
    def __init__(self, status: int, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def __repr__(self):
        return f"HttpResult({self.status}, {self.body!r})"


class KlaxonServer:
    """One `klaxon serve` child process with a bootstrapped full-access account key."""

    def __init__(self, backend: str):
        self.backend = backend
        self.dir = Path(tempfile.mkdtemp(prefix="klaxon-py-"))
        self.key = secrets.token_hex(20)
        self.port = 0
        self.url = ""
        self.proc: subprocess.Popen | None = None
        self.log_path = self.dir / "server.log"
        self.database_url: str | None = None
        self._admin_db_url: str | None = None
        self._db_name: str | None = None
        self._owner: dict | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self):
        if self.backend == "postgres":
            self._create_database()
        for attempt in range(3):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            env = dict(os.environ)
            env.update(
                {
                    "KLAXON_BOOTSTRAP_TOKEN": self.key,
                    "KLAXON_BOOTSTRAP_EMAIL": OWNER_EMAIL,
                    "KLAXON_LOG_LEVEL": os.environ.get("KLAXON_LOG_LEVEL", "info"),
                }
            )
            env.pop("KLAXON_DATABASE_URL", None)
            if self.database_url:
                env["KLAXON_DATABASE_URL"] = self.database_url
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [klaxon_bin(), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.dir / "data")],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.dir,
            )
            log.close()
            if self._wait_healthy(timeout=90):
                register_log(self._log_title(), self.log_tail)
                return self
            # The port may have been taken between free_port() and bind: try another one.
            if "cannot listen" not in self.log_tail():
                break
        self.stop()
        raise RuntimeError(f"klaxon serve did not become healthy; log:\n{self.log_tail()}")

    def _wait_healthy(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.1)
        return False

    def stop(self):
        unregister_log(self._log_title())
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._db_name:
            # Dropping can take a while on a busy server (it checkpoints): do it in the background and
            # wait for it at the end of the session (see pytest_sessionfinish).
            _PENDING_DROPS.append(
                subprocess.Popen(
                    ["psql", self._admin_db_url, "-qc", f'DROP DATABASE IF EXISTS "{self._db_name}" WITH (FORCE)'],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            self._db_name = None

    def cleanup_files(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def _log_title(self) -> str:
        return f"klaxon server log ({self.url}, {self.backend}), tail"

    def log_tail(self, max_bytes: int = 20000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return "(no log)"
        return data[-max_bytes:].decode("utf-8", "replace")

    # --- PostgreSQL -----------------------------------------------------------------------------

    def _create_database(self):
        base = os.environ.get("KLAXON_TEST_POSTGRES_URL")
        if not base:
            pytest.fail("KLAXON_TEST_BACKEND=postgres needs KLAXON_TEST_POSTGRES_URL")
        self._admin_db_url = base
        self._db_name = f"klaxon_py_{secrets.token_hex(6)}"
        self._psql(f'CREATE DATABASE "{self._db_name}"')
        parts = urllib.parse.urlsplit(base)
        self.database_url = urllib.parse.urlunsplit(parts._replace(path="/" + self._db_name))

    def _psql(self, sql: str):
        r = subprocess.run(
            ["psql", self._admin_db_url, "-v", "ON_ERROR_STOP=1", "-qc", sql],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if r.returncode != 0:
            raise RuntimeError(f"psql failed ({sql}): {r.stderr}")

    # --- plain HTTP -----------------------------------------------------------------------------

    def request(self, method: str, path: str, body=None, headers: dict | None = None, auth: bool = True) -> HttpResult:
        """One request with the bootstrap key and ``From: admin@klaxon.local``; never raises on 4xx/5xx."""
        url = path if path.startswith("http") else self.url + path
        data = None if body is None else json.dumps(body).encode()
        h = {"Accept": "application/vnd.pagerduty+json;version=2", "Content-Type": "application/json"}
        if auth:
            h["Authorization"] = f"Token token={self.key}"
            h["From"] = OWNER_EMAIL
        h.update(headers or {})
        req = urllib.request.Request(url, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw, status, rh = r.read(), r.status, r.headers
        except urllib.error.HTTPError as e:
            raw, status, rh = e.read(), e.code, e.headers
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return HttpResult(status, parsed, rh)

    def ok(self, method: str, path: str, body=None, expect=(200, 201, 202, 204)):
        r = self.request(method, path, body)
        assert r.status in expect, f"{method} {path} -> {r.status} {r.body}"
        return r.body

    def get(self, path: str, **params):
        query = []
        for k, v in params.items():
            if isinstance(v, (list, tuple)):
                query += [(k + "[]", x) for x in v]
            else:
                query.append((k, v))
        qs = ("?" + urllib.parse.urlencode(query)) if query else ""
        return self.ok("GET", path + qs)

    # --- fixtures built through the REST API -------------------------------------------------------

    def owner(self) -> dict:
        """The bootstrap owner user (found with ``GET /users?query=``)."""
        if self._owner is None:
            users = self.get("/users", query=OWNER_EMAIL)["users"]
            match = [u for u in users if u["email"].lower() == OWNER_EMAIL]
            assert match, f"bootstrap owner {OWNER_EMAIL} not listed: {users}"
            self._owner = match[0]
        return self._owner

    def create_service(self, name: str | None = None, **service_fields) -> dict:
        """An escalation policy targeting the owner, a service on it and an Events API v2 integration.

        Returns ``{"service", "escalation_policy", "integration", "routing_key"}``.
        """
        name = name or f"svc-{secrets.token_hex(4)}"
        owner = self.owner()
        ep = self.ok(
            "POST",
            "/escalation_policies",
            {
                "escalation_policy": {
                    "type": "escalation_policy",
                    "name": f"{name} policy",
                    "escalation_rules": [
                        {
                            "escalation_delay_in_minutes": 30,
                            "targets": [{"id": owner["id"], "type": "user_reference"}],
                        }
                    ],
                }
            },
            expect=(201,),
        )["escalation_policy"]
        service = {
            "type": "service",
            "name": name,
            "escalation_policy": {"id": ep["id"], "type": "escalation_policy_reference"},
        }
        service.update(service_fields)
        svc = self.ok("POST", "/services", {"service": service}, expect=(201,))["service"]
        integration = self.ok(
            "POST",
            f"/services/{svc['id']}/integrations",
            {"integration": {"type": "events_api_v2_inbound_integration", "name": "Events API v2"}},
            expect=(201,),
        )["integration"]
        key = integration.get("integration_key")
        assert isinstance(key, str) and len(key) == 32, f"integration_key should be 32 characters: {integration}"
        return {"service": svc, "escalation_policy": ep, "integration": integration, "routing_key": key}

    def incidents(self, **params) -> list[dict]:
        """Every incident matching ``params`` (e.g. ``service_ids=[...]``, ``incident_key=...``), all pages."""
        out, offset = [], 0
        while True:
            page = self.get("/incidents", limit=100, offset=offset, **params)
            out += page["incidents"]
            if not page.get("more") or not page["incidents"]:
                return out
            offset += len(page["incidents"])

    def wait_for_incident(self, timeout: float = 10, **params) -> dict:
        found = wait_until(lambda: self.incidents(**params), timeout, what=f"an incident matching {params}")
        return found[0]

    def wait_for_status(self, incident_id: str, status: str, timeout: float = 10) -> dict:
        def check():
            inc = self.get(f"/incidents/{incident_id}")["incident"]
            return inc if inc["status"] == status else None

        return wait_until(check, timeout, what=f"incident {incident_id} to be {status}")


def _backend() -> str:
    backend = os.environ.get("KLAXON_TEST_BACKEND", "sqlite")
    if backend not in ("sqlite", "postgres"):
        pytest.exit(f"KLAXON_TEST_BACKEND must be sqlite or postgres, not {backend!r}", returncode=2)
    return backend


@pytest.fixture(scope="module")
def klaxon(request):
    """A running Klaxon server for the test module (see :class:`KlaxonServer`)."""
    server = KlaxonServer(_backend())
    server.start()
    failed_before = request.session.testsfailed
    yield server
    server.stop()
    if request.session.testsfailed == failed_before:
        server.cleanup_files()
    else:
        print(f"\nklaxon server files kept in {server.dir}")


@pytest.fixture
def service(klaxon):
    """A fresh service with an Events API v2 integration on the module's server."""
    return klaxon.create_service()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the logs of every live server (and Alertmanager) to a failing test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for title, reader in list(_LIVE_LOGS.items()):
            report.sections.append((title, reader()))


def pytest_sessionfinish(session, exitstatus):
    for proc in _PENDING_DROPS:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
