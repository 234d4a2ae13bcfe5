"""Headless Chromium driven over the DevTools protocol on a pipe: no websocket client, no driver,
no browser download (Debian's chromium, as conftest.headless_chromium finds it)."""

import fcntl
import json
import os
import subprocess
import time


def above_4(fd):
    """The same pipe end on an fd above 4, so that putting one pipe on fd 3 cannot close the other."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5)
    os.close(fd)
    return moved


class Chromium:
    """One headless browser with one page. With --remote-debugging-pipe Chromium reads protocol
    commands on its fd 3 and writes replies and events on its fd 4, NUL-separated JSON."""

    def __init__(self, executable, profile, width=1280, height=900):
        commands_read, self.commands = os.pipe()
        self.replies, replies_write = os.pipe()
        commands_read, replies_write = above_4(commands_read), above_4(replies_write)
        # bash puts the pipes on fds 3 and 4 and execs chromium (no preexec_fn in a process with threads)
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{commands_read} 4>&{replies_write}', executable, "--headless",
             "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--remote-debugging-pipe", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "about:blank"],
            pass_fds=(commands_read, replies_write), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(commands_read)
        os.close(replies_write)
        self.unread, self.last_id = b"", 0
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def send(self, method, session=None, **params):
        """The result of one protocol command (events that arrive meanwhile are skipped)."""
        self.last_id += 1
        message = {"id": self.last_id, "method": method, "params": params, **({"sessionId": session} if session else {})}
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.unread:
                chunk = os.read(self.replies, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"{method}: chromium closed the pipe (exit code {self.process.poll()})")
                self.unread += chunk
            raw, self.unread = self.unread.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.last_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def page(self, method, **params):
        return self.send(method, self.session, **params)

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (promises awaited)."""
        reply = self.page("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression}: {reply['exceptionDetails'].get('exception', {}).get('description')}")
        return reply["result"].get("value")

    def wait_for(self, expression, timeout=60):
        """Poll until the expression is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError:  # the page is still loading: the names are not there yet
                value = None
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"waited {timeout} s for {expression}")

    def close(self):
        self.process.kill()
        self.process.wait()
        os.close(self.commands)
        os.close(self.replies)
