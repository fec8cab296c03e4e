"""Start a real mosquitto on a free port in a temporary directory (tests and benchmarks)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from iomt import cpus
from iomt.netutil import free_port, wait_for_port

CONFIG = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 0
max_queued_messages 0
max_packet_size 1048576
log_dest file {log}
log_type error
log_type warning
"""


class MosquittoError(RuntimeError):
    pass


class Mosquitto:
    """A mosquitto process; use as a context manager. ``url`` is its ``mqtt://`` address."""

    def __init__(self, port: int | None = None, workdir: Path | None = None) -> None:
        self.port = port or free_port()
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="iomt-mosquitto-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise MosquittoError(
                "mosquitto is not installed; run the README's test command (it runs apt-get install mosquitto)"
            )
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(CONFIG.format(port=self.port, log=self.workdir / "mosquitto.log"))
        self._proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_for_port("127.0.0.1", self.port, timeout=10):
            self.stop()
            raise MosquittoError(f"mosquitto did not start on port {self.port}; see {self.workdir}")
        return self

    def pin(self, core: int) -> None:
        """Restrict the broker to the ``core``-th allowed CPU core (benchmarks keep it off the measured
        process's core); see :func:`iomt.cpus.pin`."""
        if self._proc is not None:
            cpus.pin(core, self._proc.pid)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stderr is not None:
                self._proc.stderr.close()
            self._proc = None
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def kill(self) -> None:
        """Kill without cleanup of the directory (to test broker loss); ``start`` brings it back."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            if self._proc.stderr is not None:
                self._proc.stderr.close()
            self._proc = None

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
