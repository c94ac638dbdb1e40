"""A headless Chromium driven through its DevTools protocol (websockets), for smoke tests.

Only what the tests need: open a page, wait for its load event and a settling time,
collect console errors, uncaught exceptions and failed loads, evaluate an expression.
Every wait is bounded; the browser (its whole process group) is ended on close.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--remote-debugging-port=0", "--remote-allow-origins=*"]


class Browser:
    def __init__(self, profile: Path, timeout: float = 30.0) -> None:
        from websockets.sync.client import connect

        self.proc = subprocess.Popen([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True, text=True)
        deadline = time.monotonic() + timeout
        endpoint = None
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            m = re.search(r"DevTools listening on (ws://[^\s]+)", line)
            if m:
                endpoint = m.group(1)
                break
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # keep its pipe drained
        if endpoint is None:
            self.ws = None
            self.close()
            raise RuntimeError("chromium did not start its DevTools endpoint")
        self.ws = None
        self.next_id = 0
        self.events = []
        try:
            port = endpoint.split(":")[2].split("/")[0]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                targets = json.load(response)
            page = next(t for t in targets if t.get("type") == "page")
            self._connection = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
            self.ws = self._connection.__enter__()
            for method in ("Page.enable", "Runtime.enable", "Log.enable"):
                self.call(method)
        except BaseException:
            self.close()
            raise

    def call(self, method: str, params: dict | None = None, timeout: float = 15.0) -> dict:
        """Send a command and wait for its reply (events seen meanwhile are kept in `self.events`)."""
        self.next_id += 1
        wanted = self.next_id
        self.ws.send(json.dumps({"id": wanted, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            message = self._recv(deadline)
            if message is None:
                raise TimeoutError(f"no reply to {method}")
            if message.get("id") == wanted:
                return message.get("result", {})

    events: list[dict]

    def _recv(self, deadline: float) -> dict | None:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            message = json.loads(self.ws.recv(timeout=left))
        except TimeoutError:
            return None
        if "method" in message:
            self.events.append(message)
        return message

    def open(self, url: str, settle: float = 1.5, timeout: float = 20.0) -> list[str]:
        """Load `url`; the console errors, exceptions and failed loads seen until it settled."""
        self.events = []
        self.call("Page.navigate", {"url": url})
        deadline = time.monotonic() + timeout
        while not any(e["method"] == "Page.loadEventFired" for e in self.events):
            if self._recv(deadline) is None:
                raise TimeoutError(f"{url} did not load")
        quiet = time.monotonic() + settle
        while self._recv(quiet) is not None:
            pass
        errors = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                errors.append(str(params.get("exceptionDetails", {}).get("text")))
            elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif event["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
        return errors

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result.get("result", {}).get("value")

    def close(self) -> None:
        try:
            if self.ws is not None:
                self._connection.__exit__(None, None, None)
        finally:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
