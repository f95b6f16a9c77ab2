"""A real JupyterHub on 127.0.0.1 for the browser tests: configurable-http-proxy from npm, one
shared password (the successor of the dummy authenticator's, deprecated in JupyterHub 5.3) and the
local-process spawner, so no system users are needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import lab

USER = "alice"
PASSWORD = "nni-test-password"
API_TOKEN = "nni-test-service-token"
PROXY = "configurable-http-proxy"


def proxy_command() -> str | None:
    """configurable-http-proxy from this checkout's node_modules (``npm ci``), else from PATH."""
    local = lab.REPO / "node_modules" / ".bin" / PROXY
    return str(local) if local.exists() else shutil.which(PROXY)


def missing_requirement() -> str | None:
    """Why the hub test cannot run here, or None when it can."""
    missing = lab.missing_requirement("jupyterhub", "jupyterhub-singleuser")
    if missing is None and proxy_command() is None:
        return f"{PROXY} is not in node_modules/.bin or on PATH (npm ci)"
    return missing


@dataclass(frozen=True)
class Hub:
    """A running hub: its public URL and the homes of its users."""

    url: str
    homes: Path

    def home(self, user: str = USER) -> Path:
        """The folder the user's server runs in (its HOME and root dir)."""
        return self.homes / user

    def api(self, method: str, path: str) -> Any:
        """Call the hub's REST API as the test's admin service; returns the decoded JSON or None."""
        request = urllib.request.Request(
            f"{self.url}/hub/api/{path}",
            method=method,
            headers={"Authorization": f"token {API_TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def wait_server(self, running: bool, user: str = USER, timeout_s: float = 120) -> None:
        """Wait until the user's default server is ready (``running``) or gone."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            server = self.api("GET", f"users/{user}").get("servers", {}).get("")
            ready = bool(server and server.get("ready"))
            if ready == running and not (server and server.get("pending")):
                return
            time.sleep(0.5)
        state = "ready" if running else "stopped"
        raise TimeoutError(f"{user}'s server was not {state} within {timeout_s:.0f} s")


def write_config(workdir: Path, homes: Path, port: int) -> Path:
    """The hub's config: local ports, one password, an admin service token, JupyterLab per user."""
    bin_dir = Path(sys.executable).parent
    environment = {**lab.server_env(workdir), "HF_HUB_OFFLINE": "1"}
    config = {
        "JupyterHub": {
            "ip": "127.0.0.1",
            "port": port,
            "hub_ip": "127.0.0.1",
            "hub_port": lab.free_port(),
            "authenticator_class": "shared-password",
            "spawner_class": "simple",
            "db_url": f"sqlite:///{workdir / 'jupyterhub.sqlite'}",
            "cookie_secret_file": str(workdir / "jupyterhub_cookie_secret"),
            "pid_file": str(workdir / "jupyterhub.pid"),
            "services": [{"name": "nni-test", "api_token": API_TOKEN}],
            "load_roles": [
                {
                    "name": "nni-test",
                    "scopes": ["admin:users", "admin:servers"],
                    "services": ["nni-test"],
                }
            ],
        },
        "ConfigurableHTTPProxy": {
            "command": [proxy_command()],
            "api_url": f"http://127.0.0.1:{lab.free_port()}",
        },
        "SharedPasswordAuthenticator": {"user_password": PASSWORD},
        "Authenticator": {"allowed_users": [USER]},
        "SimpleLocalProcessSpawner": {"home_dir_template": str(homes / "{username}")},
        "Spawner": {
            "cmd": [str(bin_dir / "jupyterhub-singleuser")],
            # the tests run as root in CI containers; jupyter_server refuses root without this
            "args": ["--allow-root", "--LabApp.expose_app_in_browser=True"],
            "default_url": "/lab",
            "notebook_dir": str(homes / "{username}"),
            "environment": environment,
            "start_timeout": 120,
            "http_timeout": 120,
        },
    }
    path = workdir / "jupyterhub_config.py"
    lines = [
        f"c.{section}.{key} = {value!r}"
        for section, values in config.items()
        for key, value in values.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def jupyterhub(workdir: Path, log_path: Path, timeout_s: float = 90) -> Iterator[Hub]:
    """Run JupyterHub on a free port with its state in ``workdir``; yields the running hub."""
    homes = workdir / "homes"
    (homes / USER).mkdir(parents=True, exist_ok=True)
    port = lab.free_port()
    config = write_config(workdir, homes, port)
    log = log_path.open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        },
        cwd=workdir,
    )
    hub = Hub(f"http://127.0.0.1:{port}", homes)
    try:
        lab.wait_until_serving(
            process, hub.url, timeout_s, f"jupyterhub (see {log_path})", "/hub/api/"
        )
        yield hub
    finally:
        lab.stop(process, timeout_s=30)
        log.close()


def log_in(page: Any, hub: Hub, timeout_ms: float = 150_000) -> None:
    """Log in on the hub's login page; waits until the user's JupyterLab has loaded."""
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", USER)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{USER}/lab**", timeout=timeout_ms)
