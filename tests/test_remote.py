"""nni_jupyter.remote against the real nninteractive-server, started on 127.0.0.1 here."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "nnInteractive.inference.remote",
    reason="needs the [remote] extra: pip install nni_jupyter[remote]",
)
pytest.importorskip(
    "nnInteractive.inference.server.main",
    reason="nninteractive-server needs the full nnInteractive package (the [parity] extra)",
)
import httpx  # noqa: E402
from _tiny_model import write_tiny_model  # noqa: E402

from nni_jupyter import remote  # noqa: E402
from nni_jupyter.remote import (  # noqa: E402
    RemoteAuthError,
    RemoteConnectionError,
    RemoteError,
    RemoteVersionError,
    ServerFullError,
    check_server,
    check_versions,
    normalize_url,
    remote_session,
)

API_KEY = "test-key"
DEMO_MODEL = Path(__file__).resolve().parents[1] / "nni_jupyter" / "demo" / "model"
SHAPE = (48, 40, 32)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled demo model when it exists, else a tiny random one."""
    if (DEMO_MODEL / "fold_0").is_dir():
        return DEMO_MODEL
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny")


def _start_server(
    model: Path, log_path: Path, *extra_args: str, started: list | None = None
) -> Iterator[str]:
    """Start nninteractive-server on a free port; yield its URL; stop it afterwards.

    The process is appended to ``started`` when given (to signal it)."""
    port = _free_port()
    command = [
        sys.executable, "-m", "nnInteractive.inference.server.main",
        "--model-dir", str(model), "--fold", "0", "--device", "cpu", "--torch-n-threads", "1",
        "--host", "127.0.0.1", "--port", str(port), "--api-key", API_KEY, "--log-level", "warning",
        *extra_args,
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    if started is not None:
        started.append(process)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"nninteractive-server exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"nninteractive-server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        process.send_signal(signal.SIGCONT)  # a test may have left it stopped
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _model_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def server(model_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with room for 2 sessions and the default (10 minute) idle timeout."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    yield from _start_server(model_folder, log, "--max-sessions", "2")


@pytest.fixture
def sessions(server: str) -> Iterator[list]:
    """Sessions a test opens; all closed afterwards so the server's slots free up."""
    opened: list = []
    yield opened
    for session in opened:
        session.close()


def _image() -> np.ndarray:
    x, y, z = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    sphere = ((x - 24) ** 2 + (y - 20) ** 2 + (z - 16) ** 2) < 81
    noise = np.random.default_rng(0).normal(0, 0.1, SHAPE)
    return (sphere + noise).astype(np.float32)[None]


def _local_reference(model_folder: Path, steps: list) -> np.ndarray:
    """The target buffer after ``steps`` on the reference package's local session."""
    import torch
    from nnInteractive.inference.inference_session import nnInteractiveInferenceSession

    session = nnInteractiveInferenceSession(device=torch.device("cpu"), torch_n_threads=1)
    session.initialize_from_trained_model_folder(str(model_folder), use_fold=0)
    session.set_image(_image())
    target = np.zeros(SHAPE, np.uint8)
    session.set_target_buffer(target)
    for method, *args in steps:
        getattr(session, method)(*args)
    return target


def _connect(server: str, sessions: list, **kwargs) -> remote.RemoteSession:
    session = remote_session(server, api_key=API_KEY, **kwargs)
    sessions.append(session)
    session.set_image(_image())
    session.set_target_buffer(np.zeros(SHAPE, np.uint8))
    return session


def _drop_lease(server: str, session: remote.RemoteSession) -> None:
    """What the server's idle reaper does, through its release endpoint."""
    headers = {"X-Lease-Token": session._client._lease_token, "Authorization": f"Bearer {API_KEY}"}
    httpx.post(f"{server}/release", headers=headers).raise_for_status()


def test_check_server_reports_version_and_licence(server: str) -> None:
    capabilities = check_server(server, api_key=API_KEY)
    assert capabilities["inference_session_version"] == remote.client_version()
    assert capabilities["supported_interactions"]["points"] is True
    assert capabilities["license"]


def test_point_prompt_segments_like_the_local_session(
    server: str, sessions: list, model_folder: Path
) -> None:
    session = _connect(server, sessions)
    changed = session.add_point_interaction((24, 20, 16), include_interaction=True)
    mask = session.target_buffer
    assert changed is not None
    assert mask.any() and set(np.unique(mask)) <= {0, 1}
    expected = _local_reference(model_folder, [("add_point_interaction", (24, 20, 16), True)])
    np.testing.assert_array_equal(mask, expected)
    assert session.recoveries == 0
    assert session.supported_interactions["points"] is True  # the client's attributes show through


def test_expired_lease_reconnects_and_keeps_the_mask(
    server: str, sessions: list, model_folder: Path
) -> None:
    messages: list[str] = []
    session = _connect(server, sessions, on_recover=messages.append)
    session.add_point_interaction((24, 20, 16), include_interaction=True)
    first = session.target_buffer.copy()
    token = session._client._lease_token
    _drop_lease(server, session)
    with pytest.raises(Exception, match="lease expired"):
        session._client.lease_status()

    session.add_point_interaction((30, 24, 16), include_interaction=True)
    assert session.recoveries == 1
    assert len(messages) == 1 and f"{int(first.sum())} voxels" in messages[0]
    assert session._client._lease_token != token
    expected = _local_reference(
        model_folder,
        [("add_initial_seg_interaction", first), ("add_point_interaction", (30, 24, 16), True)],
    )
    np.testing.assert_array_equal(session.target_buffer, expected)


def test_without_recovery_an_expired_lease_is_a_clear_error(server: str, sessions: list) -> None:
    session = _connect(server, sessions, recover=False)
    _drop_lease(server, session)
    with pytest.raises(RemoteError, match="dropped this session.*new remote_session"):
        session.add_point_interaction((24, 20, 16), include_interaction=True)


def test_full_server_is_reported(server: str, sessions: list) -> None:
    sessions.append(remote_session(server, api_key=API_KEY))
    sessions.append(remote_session(server, api_key=API_KEY))
    with pytest.raises(ServerFullError, match="maximum number of sessions.*--max-sessions"):
        remote_session(server, api_key=API_KEY)
    sessions.pop().close()
    sessions.append(remote_session(server, api_key=API_KEY))


def test_wrong_api_key_is_reported(server: str) -> None:
    with pytest.raises(RemoteAuthError, match="refused the API key.*--api-key"):
        remote_session(server, api_key="wrong")


def test_version_mismatch_is_reported(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "client_version", lambda: "1.0.1")
    with pytest.raises(RemoteVersionError, match="server runs nnInteractive 2.6.0.*client 1.0.1"):
        remote_session(server, api_key=API_KEY)


def test_unreachable_server_is_reported_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(RemoteConnectionError, match="cannot reach.*nninteractive-server"):
        remote_session(f"127.0.0.1:{_free_port()}")
    assert time.monotonic() - started < 10


def test_check_versions_and_urls() -> None:
    check_versions("2.6.3", "2.6.0")
    with pytest.raises(RemoteVersionError, match="does not report"):
        check_versions(None, "2.6.0")
    with pytest.raises(RemoteVersionError, match="check_version=False"):
        check_versions("2.7.0", "2.6.0")
    assert normalize_url("gpu-host") == "http://gpu-host:1527"
    assert normalize_url("https://gpu-host:8443/") == "https://gpu-host:8443"
    assert normalize_url("http://gpu-host/nni") == "http://gpu-host:1527/nni"


def test_real_idle_timeout_recovers(model_folder: Path, tmp_path: Path) -> None:
    """The server's own reaper (2 s idle timeout, swept every 15 s) drops the lease."""
    starter = _start_server(model_folder, tmp_path / "idle.log", "--idle-timeout-seconds", "2")
    url = next(starter)
    try:
        messages: list[str] = []
        session = _connect(url, [], on_recover=messages.append)
        session.add_point_interaction((24, 20, 16), include_interaction=True)
        first = session.target_buffer.copy()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                session._client.lease_status()
            except Exception:
                break
            time.sleep(1)
        else:
            pytest.fail("the server did not reap the idle session within 60 s")
        session.add_point_interaction((30, 24, 16), include_interaction=True)
        assert session.recoveries == 1 and len(messages) == 1
        expected = _local_reference(
            model_folder,
            [("add_initial_seg_interaction", first), ("add_point_interaction", (30, 24, 16), True)],
        )
        np.testing.assert_array_equal(session.target_buffer, expected)
        session.close()
    finally:
        starter.close()


def test_segmenter_runs_unchanged_on_a_remote_session(server: str, sessions: list) -> None:
    """The widget's Python path (prompt → worker → session) with the remote engine underneath."""
    from nni_jupyter.widget import Segmenter

    messages: list[str] = []
    session = remote_session(server, api_key=API_KEY, on_recover=messages.append)
    sessions.append(session)
    seg = Segmenter(_image()[0], session=session, spacing=(1.0, 1.0, 2.0))
    seg.send = lambda content, buffers=None: None  # no front end in this test
    try:
        assert seg.model_info["device"] == f"remote {session.url}"
        seg.add_point((24, 20, 16))
        first = seg.mask
        assert first.any()
        np.testing.assert_array_equal(first, session.target_buffer)

        _drop_lease(server, session)
        seg.add_point((30, 24, 16))
        assert session.recoveries == 1 and len(messages) == 1
        np.testing.assert_array_equal(seg.mask, session.target_buffer)
        assert seg.labels.max() == 1
    finally:
        seg.close()


def test_recovery_waits_for_a_free_slot_and_keeps_the_mask(
    server: str, sessions: list, model_folder: Path
) -> None:
    session = _connect(server, sessions)
    session.add_point_interaction((24, 20, 16), include_interaction=True)
    first = session.target_buffer.copy()
    _drop_lease(server, session)
    blocker = remote_session(server, api_key=API_KEY)
    sessions.append(remote_session(server, api_key=API_KEY))  # the server is now full
    with pytest.raises(ServerFullError):
        session.add_point_interaction((30, 24, 16), include_interaction=True)
    np.testing.assert_array_equal(session.target_buffer, first)  # nothing lost meanwhile
    blocker.close()
    session.add_point_interaction((30, 24, 16), include_interaction=True)
    assert session.recoveries == 1
    expected = _local_reference(
        model_folder,
        [("add_initial_seg_interaction", first), ("add_point_interaction", (30, 24, 16), True)],
    )
    np.testing.assert_array_equal(session.target_buffer, expected)


@pytest.fixture
def stoppable_server(model_folder: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A server of this test's own, which the test may stop (SIGSTOP) and resume."""
    started: list = []
    for url in _start_server(model_folder, tmp_path / "server.log", started=started):
        yield url, started[0]


def test_a_timed_out_prompt_is_not_kept_by_the_server(
    stoppable_server: tuple[str, subprocess.Popen], model_folder: Path
) -> None:
    """A stalled server times the prompt out; once it resumes it applies that prompt to the old
    lease, but the next call first re-synchronises, so the masks follow only the prompts that
    succeeded."""
    from nni_jupyter.widget import Segmenter

    url, process = stoppable_server
    waits: list[str] = []
    session = remote_session(
        url, api_key=API_KEY, read_timeout=6, on_recover=None, on_wait=waits.append
    )
    seg = Segmenter(_image()[0], session=session)
    seg.send = lambda content, buffers=None: None  # no front end in this test
    try:
        seg.add_point((24, 20, 16))
        first = seg.labels.copy()
        assert first.any()
        process.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(RemoteConnectionError, match="did not answer .* in time"):
            seg.add_point((12, 8, 8), positive=True)
        assert time.monotonic() - started < 30  # the short default, not the client's 60 s
        assert waits and "waiting for add_point_interaction" in waits[0]
        np.testing.assert_array_equal(seg.labels, first)  # the failed prompt changed nothing
        process.send_signal(signal.SIGCONT)  # the server now applies the stale prompt
        time.sleep(2)
        seg.add_point((30, 24, 16))
        assert session.recoveries == 1
        points = [item.to_dict().get("point") for item in seg.prompts]
        # the failed prompt is not recorded; where the session restarted from the masks is
        assert points == [[24, 20, 16], None, [30, 24, 16]]
        assert seg.prompts[1].name == "resync"
        expected = _local_reference(
            model_folder,
            [("add_initial_seg_interaction", first), ("add_point_interaction", (30, 24, 16), True)],
        )
        np.testing.assert_array_equal(seg.labels, expected)
        # the log is the truth: replayed on a fresh remote session it gives the same labels
        replay_session = remote_session(url, api_key=API_KEY)
        replay = Segmenter(_image()[0], session=replay_session)
        replay.send = lambda content, buffers=None: None
        try:
            replay.replay_prompt_log(seg.prompt_log())
            np.testing.assert_array_equal(replay.labels, seg.labels)
        finally:
            replay.close()
            replay_session.close()
    finally:
        seg.close()
        process.send_signal(signal.SIGCONT)
        session.close()
