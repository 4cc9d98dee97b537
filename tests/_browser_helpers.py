"""A real headless browser for the page tests: Debian's chromium driven over the DevTools protocol.

:func:`browser_or_skip` runs the test set-up (``tests/browser/setup.sh``: apt-get install chromium
when it is missing) once and skips the test, printing why, when chromium cannot be had.
:func:`load_page` opens a file in a fresh headless chromium through ``--remote-debugging-pipe``
(the protocol over two pipes: no port, no extra package) and returns what the page did: console
messages, uncaught exceptions, log entries, the URLs it requested, values of JavaScript expressions
and a PNG screenshot.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SETUP = Path(__file__).resolve().parent / "browser" / "setup.sh"
# Seconds to wait for one answer of the browser: generous, the test machine is often busy.
TIMEOUT = 120.0
_SETUP_RESULT: dict[str, str | None] = {}


def browser_or_skip() -> str:
    """The chromium executable, installing it with the set-up script if needed; else skip with the reason."""
    if "path" not in _SETUP_RESULT:
        reason = None
        if shutil.which("chromium") is None:
            try:
                result = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=900)
            except subprocess.TimeoutExpired:
                reason = "the chromium set-up (tests/browser/setup.sh) took longer than 15 minutes"
            else:
                if result.returncode != 0:
                    lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
                    reason = f"tests/browser/setup.sh could not install chromium: {lines[-1]}"
        _SETUP_RESULT["path"] = shutil.which("chromium")
        _SETUP_RESULT["reason"] = reason or ("chromium not on the PATH" if _SETUP_RESULT["path"] is None else None)
    if _SETUP_RESULT["path"] is None:
        print(f"SKIPPED browser test: {_SETUP_RESULT['reason']}")
        pytest.skip(_SETUP_RESULT["reason"])
    return _SETUP_RESULT["path"]


@dataclass
class PageVisit:
    console: list[dict[str, Any]] = field(default_factory=list)      # Runtime.consoleAPICalled
    exceptions: list[dict[str, Any]] = field(default_factory=list)   # Runtime.exceptionThrown
    log: list[dict[str, Any]] = field(default_factory=list)          # Log.entryAdded
    requests: list[str] = field(default_factory=list)                # every URL the page asked for
    failed: list[dict[str, Any]] = field(default_factory=list)       # Network.loadingFailed
    values: dict[str, Any] = field(default_factory=dict)             # expression -> value
    screenshot: bytes = b""

    def errors(self) -> list[str]:
        """Everything that counts as an error in the console."""
        found = [f"exception: {item.get('exceptionDetails', {}).get('text')} "
                 f"{item.get('exceptionDetails', {}).get('exception', {}).get('description', '')}"
                 for item in self.exceptions]
        found += [f"console.{item['type']}: {[a.get('value', a.get('description')) for a in item['args']]}"
                  for item in self.console if item["type"] in ("error", "assert", "warning")]
        found += [f"log {entry['entry']['level']}: {entry['entry']['text']}" for entry in self.log
                  if entry["entry"]["level"] in ("error", "warning")]
        found += [f"failed to load {item.get('requestId')}: {item.get('errorText')}" for item in self.failed]
        return found


class _Pipe:
    """The DevTools protocol over chromium's fds 3 (commands in) and 4 (replies and events out)."""

    def __init__(self, executable: str, profile: Path):
        command_read, self.command_write = os.pipe()
        self.reply_read, reply_write = os.pipe()
        # fds the child will dup2 to 3 and 4 must not be 3 or 4 themselves
        command_read = fcntl.fcntl(command_read, fcntl.F_DUPFD_CLOEXEC, 10)
        reply_write = fcntl.fcntl(reply_write, fcntl.F_DUPFD_CLOEXEC, 10)

        def child_fds() -> None:
            os.dup2(command_read, 3)
            os.dup2(reply_write, 4)

        self.process = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking", "--disable-component-update",
             "--hide-scrollbars", "--mute-audio", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=child_fds, close_fds=False)
        os.close(command_read)
        os.close(reply_write)
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = TIMEOUT) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.command_write, json.dumps(message).encode() + b"\0")
        wanted = self.next_id
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline, method)
            if reply.get("id") == wanted:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._read(deadline, method)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def drain(self, seconds: float) -> None:
        """Collect the events of the next ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.events.append(self._read(deadline, "events"))
            except TimeoutError:
                return

    def _read(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.reply_read], [], [], left)[0]:
                raise TimeoutError(f"chromium did not answer in time ({waiting_for})")
            chunk = os.read(self.reply_read, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.command_write)
        os.close(self.reply_read)


def load_page(executable: str, page: Path, expressions: tuple[str, ...] = (), width: int = 1280, height: int = 1000,
              settle: float = 1.0) -> PageVisit:
    """Open ``page`` (a file) in a fresh headless chromium; the page's console, requests, values, screenshot."""
    visit = PageVisit()
    with tempfile.TemporaryDirectory() as profile:
        pipe = _Pipe(executable, Path(profile))
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for method in ("Runtime.enable", "Log.enable", "Page.enable", "Network.enable"):
                pipe.send(method, session=session)
            pipe.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
            pipe.events.clear()
            pipe.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
            pipe.wait_for("Page.loadEventFired")
            pipe.drain(settle)
            for expression in expressions:
                result = pipe.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                                   session=session)
                visit.values[expression] = result.get("result", {}).get("value")
            shot = pipe.send("Page.captureScreenshot", {"format": "png"}, session=session)
            visit.screenshot = base64.b64decode(shot["data"])
            pipe.drain(0.2)
        finally:
            pipe.close()
    for event in pipe.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            visit.console.append(params)
        elif method == "Runtime.exceptionThrown":
            visit.exceptions.append(params)
        elif method == "Log.entryAdded":
            visit.log.append(params)
        elif method == "Network.requestWillBeSent":
            visit.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            visit.failed.append(params)
    return visit
