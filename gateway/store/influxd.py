"""Start a real ``influxd`` (InfluxDB 1.x, Debian's ``influxdb``) on free ports in a temporary directory.

Used by the tests and by ``iomt bench store``; ``kill`` and ``start`` again keep the data directory,
so a test can take the server away mid-load and bring it back.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from iomt.netutil import free_port

CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{dir}/meta"
[data]
  dir = "{dir}/data"
  wal-dir = "{dir}/wal"
  query-log-enabled = false
  trace-logging-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
  max-body-size = 0
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
"""


class InfluxdError(RuntimeError):
    pass


class Influxd:
    """An influxd process; use as a context manager. ``url`` is its HTTP address."""

    def __init__(self, workdir: Path | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.rpc_port = free_port()
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="iomt-influxd-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> Influxd:
        binary = shutil.which("influxd") or "/usr/bin/influxd"
        if not Path(binary).exists():
            raise InfluxdError("influxd is not installed; run the README's test command (it installs influxdb)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "influxdb.conf"
        conf.write_text(CONFIG.format(dir=self.workdir, port=self.port, rpc_port=self.rpc_port))
        log = (self.workdir / "influxd.log").open("ab")
        try:
            self._proc = subprocess.Popen([binary, "-config", str(conf)], stdout=log, stderr=log)
        finally:
            log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if self.ping():
                return self
            time.sleep(0.1)
        self.stop()
        raise InfluxdError(f"influxd did not start on port {self.port}; see {self.workdir}/influxd.log")

    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                return bool(response.status == 204)
        except (urllib.error.URLError, OSError):
            return False

    def kill(self) -> None:
        """SIGKILL, keeping the data directory; ``start`` brings the same database back."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Influxd:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
