"""Segment on a remote GPU: the official ``nninteractive-server``, from a kernel without one.

:func:`remote_session` wraps ``nnInteractiveRemoteInferenceSession`` (extra ``[remote]``, the
``nninteractive-client`` package) in a :class:`RemoteSession` with the session API the widget uses,
and adds:

- a connection test before the lease is claimed, with clear errors for an unreachable server, a
  wrong API key, a server/client version mismatch and a full server;
- lease recovery: the server drops a session after its idle timeout (10 minutes by default) or a
  restart. The next call then claims a new lease, sends the image again, restores the current mask
  (``add_initial_seg_interaction``) and retries, so the segmentation so far is kept. Undo history
  and the weight of earlier prompts are not: the restored mask is the new starting point.
- no silent divergence after a timeout: a prompt that timed out is reported as failed, but the
  server may still apply it once it answers again. The next call therefore first brings the server
  back in line with this kernel (a new lease with the image and the current local mask), so what the
  server holds is what the kernel shows and a replay of the recorded prompts reproduces it.
- a shorter wait for a hung server (``read_timeout`` 20 s instead of the client's 60 s) and a
  message every few seconds while a call is pending (``on_wait``).

Start a server on a GPU host with, for example,
``nninteractive-server --model nnInteractive_v1.0 --host 0.0.0.0 --port 1527 --api-key SECRET``
(or ``--model-dir <folder> --fold 0`` for a model folder), then in the notebook
``session = nni_jupyter.remote_session("http://gpu-host:1527", api_key="SECRET")``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any

import numpy as np

DEFAULT_PORT = 1527
#: Seconds a call may wait for the server's answer (the client's own default is 60 s); a prompt
#: on the v1.0 model takes 0.1 to 10 s on a GPU.
DEFAULT_READ_TIMEOUT = 20.0
#: Seconds between the "still waiting" messages of a pending call.
WAIT_MESSAGE_INTERVAL = 5.0
_EXTRA_HINT = "install it with: pip install nni_jupyter[remote]"
_START_HINT = (
    "Is nninteractive-server running there? Start it on the GPU host with "
    "`nninteractive-server --model nnInteractive_v1.0 --host 0.0.0.0 --port 1527`, and check the "
    "URL, the port and any firewall or SSH tunnel (ssh -L 1527:localhost:1527 gpu-host)."
)


class RemoteError(RuntimeError):
    """A remote-session failure; the message says what to do."""


class RemoteConnectionError(RemoteError):
    """The server cannot be reached (refused, DNS, timeout)."""


class RemoteAuthError(RemoteError):
    """The server wants a different API key."""


class RemoteVersionError(RemoteError):
    """The server's nnInteractive version does not match this client's."""


class ServerFullError(RemoteError):
    """The server already serves its maximum number of sessions."""


def _client() -> Any:
    try:
        from nnInteractive.inference import remote
    except ImportError as error:
        raise ImportError(f"remote sessions need nninteractive-client; {_EXTRA_HINT}") from error
    return remote


def client_version() -> str:
    """Version of the installed nnInteractive client (``nninteractive-client`` or full package)."""
    for distribution in ("nninteractive-client", "nnInteractive"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            return metadata.version(distribution)
    raise ImportError(f"nninteractive-client is not installed; {_EXTRA_HINT}")


def normalize_url(url: str) -> str:
    """``host``, ``host:port`` or a full URL → ``http(s)://host:port`` without a trailing slash."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
    scheme, rest = url.split("://", 1)
    if ":" not in rest.split("/", 1)[0]:
        host, _, path = rest.partition("/")
        rest = f"{host}:{DEFAULT_PORT}" + (f"/{path}" if path else "")
    return f"{scheme}://{rest}"


def check_versions(server_version: str | None, local_version: str) -> None:
    """Raise :class:`RemoteVersionError` unless both versions share major and minor numbers."""
    if not server_version:
        raise RemoteVersionError(
            f"the server does not report its nnInteractive version (too old for client "
            f"{local_version}?). Update the server: pip install -U 'nnInteractive=={local_version}'"
        )

    def major_minor(version: str) -> tuple[str, ...]:
        return tuple(version.split("+")[0].split(".")[:2])

    if major_minor(server_version) != major_minor(local_version):
        raise RemoteVersionError(
            f"server runs nnInteractive {server_version}, this kernel has client {local_version}; "
            "their protocols may differ. Install the matching client "
            f"(pip install 'nninteractive-client=={server_version}') or update the server, or "
            "pass check_version=False to try anyway."
        )


def _detail(response: Any) -> str:
    with contextlib.suppress(ValueError):
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            return body["detail"]
    return response.text[:200]


@contextlib.contextmanager
def _translate_errors(url: str) -> Iterator[None]:
    """Turn httpx and client errors into RemoteError subclasses with advice."""
    import httpx

    remote = _client()
    try:
        yield
    except remote.ServerAtCapacityError as error:
        raise ServerFullError(
            f"{url} is serving its maximum number of sessions ({error}). Close unused sessions "
            "(session.close(), or restart their kernels), wait for idle ones to expire, or ask "
            "the operator to raise --max-sessions."
        ) from error
    except httpx.TimeoutException as error:
        raise RemoteConnectionError(
            f"{url} did not answer in time ({type(error).__name__}). The server may be busy or "
            "the network slow: retry, or pass a longer read_timeout to remote_session."
        ) from error
    except httpx.TransportError as error:
        raise RemoteConnectionError(f"cannot reach {url} ({error}). {_START_HINT}") from error
    except httpx.HTTPStatusError as error:
        status, detail = error.response.status_code, _detail(error.response)
        if status == 401:
            raise RemoteAuthError(
                f"{url} refused the API key ({detail}). Pass api_key=... (or set "
                "NN_INTERACTIVE_API_KEY) to the key the server was started with (--api-key)."
            ) from error
        if status == 404:
            raise RemoteVersionError(
                f"{url} has no endpoint {error.request.url.path}: not an nninteractive-server, or "
                f"one older than client {client_version()}. Update the server."
            ) from error
        if status in (400, 422):
            raise ValueError(f"the server rejected the request: {detail}") from error
        raise RemoteError(f"{url} answered HTTP {status}: {detail}") from error


def check_server(url: str, api_key: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """Connection test: reach the server, authenticate, read its capabilities; claim nothing.

    Parameters
    ----------
    url
        Server address, e.g. ``"http://gpu-host:1527"`` (``"gpu-host"`` means port 1527).
    api_key
        Bearer token, if the server was started with ``--api-key``; default
        ``$NN_INTERACTIVE_API_KEY``.
    timeout
        Seconds to wait for each answer.

    Returns
    -------
    dict
        The server's capabilities (``inference_session_version``, ``license``, ``patch_size``,
        ``supported_interactions``, ...).
    """
    import os

    import httpx

    url = normalize_url(url)
    api_key = api_key if api_key is not None else os.environ.get("NN_INTERACTIVE_API_KEY")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    with _translate_errors(url), httpx.Client(base_url=url, timeout=timeout) as http:
        http.get("/healthz").raise_for_status()
        response = http.get("/capabilities", headers=headers)
        response.raise_for_status()
        return response.json()


class RemoteSession:
    """The remote session the widget drives: the official client plus lease recovery.

    Use :func:`remote_session` to make one. It has the session API (``set_image``,
    ``set_target_buffer``, ``add_*_interaction``, ``reset_interactions``, ``undo``, ...); other
    attributes (``license``, ``supported_interactions``, ``preferred_scribble_thickness``,
    ``target_buffer``, ...) are the current client's.

    Attributes
    ----------
    url
        The server's address.
    recoveries
        How many times an expired lease was replaced and the mask restored.
    """

    def __init__(
        self,
        url: str,
        connect: Callable[[], Any],
        recover: bool = True,
        on_recover: Callable[[str], None] | None = print,
        on_wait: Callable[[str], None] | None = None,
        read_timeout: float | None = None,
    ) -> None:
        self.url = url
        self._connect, self._recover = connect, recover
        # what the user hears: reconnections, and pending calls (read_timeout bounds their wait)
        self._on_recover, self._on_wait, self._read_timeout = on_recover, on_wait, read_timeout
        self._lock = threading.RLock()
        # what a new lease must be given to stand where this one stood
        self._image: np.ndarray | None = None
        self._image_properties: dict | None = None
        self._target: Any = None
        self._do_autozoom: bool | None = None
        self.recoveries = 0
        # Why the server may not hold this kernel's state (a failed reconnection or a timed-out
        # call it may still apply); None when in line.
        self._out_of_sync: str | None = None
        with _translate_errors(url):
            self._client = connect()

    @property
    def device(self) -> str:
        """Where the model runs, for status lines: ``"remote <url>"``."""
        return f"remote {self.url}"

    @property
    def model_name(self) -> str:
        """A name for the served model (the server does not report one)."""
        return f"nnInteractive server {self.url}"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or "_client" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self._client, name)

    def _call(self, method: str, *args: Any, restore: bool = True, **kwargs: Any) -> Any:
        """Call the client; on an expired lease reconnect (restoring state if asked) and retry.

        A call that times out leaves the session out of sync: the next call reconnects first.
        """
        import httpx

        expired = _client().SessionExpiredError
        with self._lock, _translate_errors(self.url):
            if self._out_of_sync is not None:
                self._reconnect(self._out_of_sync, restore)
                with self._waiting(method):
                    return getattr(self._client, method)(*args, **kwargs)
            try:
                with self._waiting(method):
                    return getattr(self._client, method)(*args, **kwargs)
            except expired as error:
                if not self._recover:
                    raise RemoteError(
                        f"the server at {self.url} dropped this session ({error}), e.g. after "
                        "its idle timeout. Make a new remote_session (recover=True reconnects "
                        "by itself)."
                    ) from error
                self._reconnect(str(error), restore)
                return getattr(self._client, method)(*args, **kwargs)
            except httpx.TimeoutException as error:
                self._out_of_sync = f"{method} timed out and the server may still apply it"
                raise RemoteConnectionError(
                    f"{self.url} did not answer {method} in time ({type(error).__name__}); the "
                    "prompt counts as failed and the mask is unchanged here. The server may "
                    "still apply it, so the next call first starts a new server session with the "
                    "image and this mask. If the server is busy rather than hung, pass a longer "
                    "read_timeout to remote_session."
                ) from error

    @contextlib.contextmanager
    def _waiting(self, method: str) -> Iterator[None]:
        """Report every few seconds (``on_wait``) while a call is pending."""
        on_wait = self._on_wait
        if on_wait is None:
            yield
            return
        done = threading.Event()
        started = time.monotonic()
        limit = f" (gives up after {self._read_timeout:.0f} s)" if self._read_timeout else ""

        def report() -> None:
            while not done.wait(WAIT_MESSAGE_INTERVAL):
                waited = time.monotonic() - started
                on_wait(
                    f"nnInteractive server {self.url}: waiting for {method}, {waited:.0f} s{limit}"
                )

        reporter = threading.Thread(target=report, name="nni-remote-wait", daemon=True)
        reporter.start()
        try:
            yield
        finally:
            done.set()
            reporter.join()

    def _reconnect(self, reason: str, restore: bool) -> None:
        """Claim a new lease; restore image, target buffer, current mask and autozoom.

        If this fails (server full, down or hung), the session stays out of sync and the next call
        tries again; the mask so far stays in the local target buffer meanwhile.
        """
        self._out_of_sync = self._out_of_sync or "an earlier reconnection failed"
        with contextlib.suppress(Exception):
            self._client.close()
        self._client = self._connect()
        mask_voxels = 0
        if restore and self._image is not None:
            self._client.set_image(self._image, self._image_properties)
            if self._target is not None:
                mask = np.array(
                    self._target.cpu() if hasattr(self._target, "cpu") else self._target
                )
                self._client.set_target_buffer(self._target)
                mask_voxels = int(np.count_nonzero(mask))
                if mask_voxels:
                    self._client.add_initial_seg_interaction(mask, run_prediction=False)
        if self._do_autozoom is not None:
            self._client.set_do_autozoom(self._do_autozoom)
        self._out_of_sync = None
        self.recoveries += 1
        if self._on_recover is not None:
            restored = (
                f"; restored the image and the current mask ({mask_voxels} voxels)"
                if restore and self._image is not None
                else ""
            )
            self._on_recover(f"nnInteractive server {self.url}: reconnected ({reason}){restored}.")

    def set_image(self, image: np.ndarray, image_properties: dict | None = None) -> None:
        """Send the 4-D image ``[1, X, Y, Z]``; a new image needs a new target buffer after it."""
        self._image, self._image_properties, self._target = image, image_properties, None
        self._call("set_image", image, image_properties, restore=False)

    def set_target_buffer(self, target_buffer: Any) -> None:
        """Register the ``[X, Y, Z]`` array the predictions are written into."""
        self._target = target_buffer
        self._call("set_target_buffer", target_buffer)

    def set_do_autozoom(self, do_autozoom: bool) -> None:
        """Switch AutoZoom on or off for the following prompts."""
        self._do_autozoom = bool(do_autozoom)
        self._call("set_do_autozoom", do_autozoom)

    def reset_interactions(self) -> None:
        """Clear the prompts and the target buffer (start the object again)."""
        self._call("reset_interactions")

    def undo(self) -> bool:
        """Undo the last prompt on the server; False when there is nothing to undo."""
        return self._call("undo")

    def add_point_interaction(self, coordinates: Any, include_interaction: bool, **kwargs: Any):
        """Point prompt at voxel ``(x, y, z)``; returns the changed bbox or None."""
        return self._call("add_point_interaction", coordinates, include_interaction, **kwargs)

    def add_bbox_interaction(self, bbox_coords: Any, include_interaction: bool, **kwargs: Any):
        """Box prompt ``[[x0, x1], [y0, y1], [z0, z1]]`` (half-open); returns the changed bbox."""
        return self._call("add_bbox_interaction", bbox_coords, include_interaction, **kwargs)

    def add_scribble_interaction(self, scribble_image: Any, include_interaction: bool, **kwargs):
        """Scribble prompt (a 0/1 mask); returns the changed bbox or None."""
        return self._call("add_scribble_interaction", scribble_image, include_interaction, **kwargs)

    def add_lasso_interaction(self, lasso_image: Any, include_interaction: bool, **kwargs: Any):
        """Lasso prompt (a filled 0/1 mask); returns the changed bbox or None."""
        return self._call("add_lasso_interaction", lasso_image, include_interaction, **kwargs)

    def add_initial_seg_interaction(self, initial_seg: np.ndarray, **kwargs: Any):
        """Start the object from an existing mask; returns the changed bbox or None."""
        return self._call("add_initial_seg_interaction", initial_seg, **kwargs)

    def close(self) -> None:
        """Release the lease so the server frees the slot; the session cannot be used after."""
        with self._lock:
            self._client.close()

    def __enter__(self) -> RemoteSession:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def remote_session(
    url: str,
    *,
    api_key: str | None = None,
    check_version: bool = True,
    recover: bool = True,
    on_recover: Callable[[str], None] | None = print,
    on_wait: Callable[[str], None] | None = print,
    **client_kwargs: Any,
) -> RemoteSession:
    """Connect to an ``nninteractive-server`` and claim a session on it.

    Parameters
    ----------
    url
        Server address, e.g. ``"http://gpu-host:1527"``.
    api_key
        Bearer token if the server has one (``--api-key``); default ``$NN_INTERACTIVE_API_KEY``.
    check_version
        Refuse a server whose nnInteractive major.minor version differs from the client's.
    recover
        Replace an expired lease on the next call and restore the mask (see the module docs).
    on_recover
        Called with a one-line message after each recovery (default ``print``); None for silence.
    on_wait
        Called every few seconds with a one-line message while a call waits for the server
        (default ``print``); None for silence.
    **client_kwargs
        Passed to ``nnInteractiveRemoteInferenceSession`` (``connect_timeout``, ``read_timeout``
        (default here :data:`DEFAULT_READ_TIMEOUT`, 20 s), ``set_image_read_timeout``,
        ``write_timeout``).

    Returns
    -------
    RemoteSession
        A session to pass to ``Segmenter(image, session=...)`` or to drive directly.

    Raises
    ------
    RemoteConnectionError, RemoteAuthError, RemoteVersionError, ServerFullError
        With what went wrong and what to do.
    """
    url = normalize_url(url)
    remote = _client()
    client_kwargs.setdefault("read_timeout", DEFAULT_READ_TIMEOUT)
    capabilities = check_server(url, api_key, timeout=client_kwargs.get("connect_timeout", 5.0))
    if check_version:
        check_versions(capabilities.get("inference_session_version"), client_version())

    def connect() -> Any:
        try:
            return remote.nnInteractiveRemoteInferenceSession(url, api_key=api_key, **client_kwargs)
        except KeyError as error:  # a capability this client needs is missing: older server
            raise RemoteVersionError(
                f"{url} lacks the capability {error} that client {client_version()} needs; "
                "update the server to the client's nnInteractive version"
            ) from error

    return RemoteSession(
        url,
        connect,
        recover=recover,
        on_recover=on_recover,
        on_wait=on_wait,
        read_timeout=client_kwargs["read_timeout"],
    )
