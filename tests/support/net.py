"""Loopback helpers: free ports, waiting for a server to answer, stopping a process."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http_ok(
    url: str,
    timeout: float = 30.0,
    process: subprocess.Popen[bytes] | None = None,
    context: ssl.SSLContext | None = None,
) -> None:
    """Poll ``url`` until it answers 200, or raise ``TimeoutError`` after ``timeout`` s.

    With ``process``, raise ``RuntimeError`` as soon as it exits (a bad config, a busy
    port) instead of waiting out the timeout. ``context``: TLS settings for an https URL.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"exited with status {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError) as exc:
            last_error = exc
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer 200 within {timeout}s (last error: {last_error})")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
    """SIGTERM, wait for exit (kill after ``timeout``); returns the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    return int(process.returncode)
