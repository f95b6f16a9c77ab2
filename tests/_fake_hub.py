"""A Hugging Face hub on 127.0.0.1 serving one repository from a local folder (no network).

It answers the calls huggingface_hub makes for ``hf_hub_download`` and ``snapshot_download``:
the revision info, the recursive tree listing and ``resolve`` (HEAD and GET, with the commit,
ETag and size headers), so the real client code runs end to end. Every request is counted, so a
test can say that a second look-up downloaded nothing.

Private test helper, imported as ``from _fake_hub import ...``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"


@dataclass
class FakeHub:
    """The served repository and what was asked of it."""

    repo_id: str
    folder: Path
    endpoint: str = ""
    requests: list[str] = field(default_factory=list)

    def files(self) -> list[str]:
        return sorted(
            p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*") if p.is_file()
        )

    def downloads(self) -> list[str]:
        """Paths whose content was sent (GET on resolve)."""
        return [
            r.split("/resolve/", 1)[1]
            for r in self.requests
            if r.startswith("GET ") and "/resolve/" in r
        ]


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    api = f"/api/models/{hub.repo_id}"
    resolve = f"/{hub.repo_id}/resolve/"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _json(self, value: object) -> None:
            body = json.dumps(value).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _file(self, send_body: bool) -> None:
            path = unquote(urlsplit(self.path).path)[len(resolve) :].split("/", 1)[1]
            file = hub.folder / path
            if not file.is_file():
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = file.read_bytes()
            self.send_response(200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if send_body:
                self.wfile.write(data)

        def _answer(self, send_body: bool) -> None:
            hub.requests.append(f"{self.command} {unquote(urlsplit(self.path).path)}")
            path = unquote(urlsplit(self.path).path)
            if path.startswith(resolve):
                return self._file(send_body)
            if path.startswith(f"{api}/revision/"):
                siblings = [{"rfilename": f} for f in hub.files()]
                return self._json({"id": hub.repo_id, "sha": COMMIT, "siblings": siblings})
            if path.startswith(f"{api}/tree/"):
                return self._json(
                    [
                        {
                            "type": "file",
                            "path": f,
                            "size": (hub.folder / f).stat().st_size,
                            "oid": hashlib.sha1((hub.folder / f).read_bytes()).hexdigest(),
                        }
                        for f in hub.files()
                    ]
                )
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self._answer(send_body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(send_body=False)

    return Handler


@contextmanager
def serve(repo_id: str, folder: Path) -> Iterator[FakeHub]:
    """Serve ``folder`` as ``repo_id`` until the block ends; yields the hub (its ``endpoint``)."""
    hub = FakeHub(repo_id, folder)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    hub.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
