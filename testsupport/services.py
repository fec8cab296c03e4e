"""Real servers for tests and benchmarks: one managed-process base, and mosquitto and influxd on it.

:class:`ManagedProcess` starts a server in a directory of its own (a new temporary one unless one is
given) on a free port, waits until it answers, and on ``stop`` ends it and removes the directory it
made. A server that exits or does not answer in time raises :class:`ServiceError` carrying the end of
its log, so a failed start explains itself in the test report. A subclass says only how to start its
server (``command``, which writes any config file into ``workdir``) and, where an open port is not
enough, when it is ready (``ready``); a browser driver or a database fits the same way.

``kill`` ends a server without cleaning up, and ``start`` again brings it back on the same port with
the same directory: tests use that to take a broker or a database away mid-run.
"""

from __future__ import annotations

import abc
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from testsupport.net import free_port, port_open

#: Lines of a server's log quoted in the error when it fails to start.
LOG_TAIL_LINES = 40
#: What to do when a server's program is not installed.
INSTALL_HINT = "run the README's test command (it installs the services the tests start from Debian's packages)"


class ServiceError(RuntimeError):
    """A server could not be started (not installed, exited, or never answered); the message says which."""


class ManagedProcess(abc.ABC):
    """A server process owned by a test or a benchmark; use it as a context manager.

    Its output (stdout and stderr) goes to ``log_path`` in ``workdir``.
    """

    #: Short name: the prefix of the temporary directory, the log file's name, the error messages.
    name: ClassVar[str]
    #: The program, looked up on ``PATH`` and then at ``fallback_paths``.
    program: ClassVar[str]
    fallback_paths: ClassVar[tuple[str, ...]] = ()
    #: What to do when the program is missing.
    install_hint: ClassVar[str] = INSTALL_HINT
    #: Seconds ``start`` waits for ``ready``; seconds ``stop`` waits after SIGTERM before SIGKILL.
    start_timeout_s: ClassVar[float] = 10.0
    stop_timeout_s: ClassVar[float] = 10.0

    def __init__(self, *, workdir: Path | None = None, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port(host)
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"iomt-{self.name}-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @abc.abstractmethod
    def command(self, program: str) -> list[str]:
        """The command line that runs the server (``program`` is the found executable); writes any
        config file it needs into ``workdir`` first."""

    def ready(self) -> bool:
        """Whether the server answers; by default, whether its port accepts a TCP connection."""
        return port_open(self.host, self.port)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        """The server's process id (e.g. to pin it to a core: ``benchmarks.cpus.pin(index, server.pid)``)."""
        if self._proc is None:
            raise ServiceError(f"{self.name} is not running")
        return self._proc.pid

    def start(self, timeout_s: float | None = None) -> Self:
        """Start the server and wait until it is ready; :class:`ServiceError` with its log if it is not."""
        if self._proc is not None:
            raise ServiceError(f"{self.name} is already running (pid {self._proc.pid}); stop or kill it first")
        program = self._find_program()
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = self.command(program)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        timeout = self.start_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if self.ready():
                return self
            time.sleep(0.05)
        status = self._proc.poll()
        why = f"exited with status {status}" if status is not None else f"did not answer within {timeout:g} s"
        tail = self.log_tail()
        self.stop()
        raise ServiceError(
            f"{self.name} {why} on port {self.port} ({' '.join(argv)}); the end of its log {self.log_path}:\n{tail}"
        )

    def stop(self) -> None:
        """SIGTERM (SIGKILL after ``stop_timeout_s``), then remove the directory if this object made it."""
        self._end(graceful=True)
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL, keeping the directory: ``start`` brings the same server back on the same port."""
        self._end(graceful=False)

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(the log is empty)"

    def _end(self, graceful: bool) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if graceful:
            proc.terminate()
            try:
                proc.wait(self.stop_timeout_s)
                return
            except subprocess.TimeoutExpired:
                pass
        proc.kill()
        proc.wait()

    def _find_program(self) -> str:
        found = shutil.which(self.program) or next((p for p in self.fallback_paths if Path(p).exists()), None)
        if found is None:
            raise ServiceError(f"{self.program} is not installed; {self.install_hint}")
        return found

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


#: Where Debian (and most distributions) put mosquitto's dynamic security plugin.
DYNSEC_PLUGIN_PATHS = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)

#: Crash-safe save policy: the in-memory database is written (to a new file, then renamed) whenever
#: more than one whole second has passed since the last save — every 2 s, as mosquitto compares whole
#: seconds — so a SIGKILL loses at most the last ~2 s of what was queued for offline clients, and a
#: persistent session's subscriptions survive a crash ~2 s after they were made. Counting changes
#: instead (``autosave_on_changes``) writes the whole database per message: quadratic while an edge is
#: away (20,000 queued messages did not finish in 300 s with ``autosave_interval 1`` on changes).
PERSISTENCE_CONFIG = """\
persistence true
persistence_location {dir}/
autosave_interval 1
"""


@dataclass(frozen=True)
class BrokerTls:
    """A TLS listener: the broker's certificate and key; with ``ca_file`` and
    ``require_certificate``, clients must present a certificate that CA signed (mutual TLS), which
    ``crl_file`` may revoke; ``use_identity_as_username`` makes its CN the username."""

    cert_file: Path
    key_file: Path
    ca_file: Path | None = None
    require_certificate: bool = False
    crl_file: Path | None = None
    use_identity_as_username: bool = False


def mosquitto_config(
    host: str,
    port: int,
    workdir: Path,
    *,
    persistence: bool = True,
    dynsec_file: Path | None = None,
    tls: BrokerTls | None = None,
) -> str:
    """mosquitto.conf for one listener: anonymous unless ``dynsec_file`` (the dynamic security
    plugin's JSON) is given, plain unless ``tls`` is; persistence with :data:`PERSISTENCE_CONFIG`."""
    lines = [f"listener {port} {host}"]
    if tls is not None:
        lines += [f"certfile {tls.cert_file}", f"keyfile {tls.key_file}"]
        if tls.ca_file is not None:
            lines.append(f"cafile {tls.ca_file}")
        if tls.require_certificate:
            lines.append("require_certificate true")
        if tls.crl_file is not None:
            lines.append(f"crlfile {tls.crl_file}")
        if tls.use_identity_as_username:
            lines.append("use_identity_as_username true")
    if dynsec_file is not None:
        plugin = next((p for p in DYNSEC_PLUGIN_PATHS if Path(p).exists()), None)
        if plugin is None:
            raise ServiceError(f"mosquitto's dynamic security plugin is not installed (looked in "
                               f"{', '.join(DYNSEC_PLUGIN_PATHS)})")
        lines += ["allow_anonymous false", f"plugin {plugin}", f"plugin_opt_config_file {dynsec_file}",
                  # one identity, one session: nobody can take over (and empty) another party's session
                  "use_username_as_clientid true"]
    elif tls is None or not tls.use_identity_as_username:
        lines.append("allow_anonymous true")
    if os.geteuid() == 0:
        # run as root, mosquitto switches to the user "mosquitto", which cannot write our temp dirs
        lines.append("user root")
    text = "\n".join(lines) + "\n" + MOSQUITTO_LIMITS
    if persistence:
        text += PERSISTENCE_CONFIG.format(dir=workdir)
    return text


MOSQUITTO_LIMITS = """\
max_inflight_messages 0
max_queued_messages 0
max_packet_size 1048576
log_dest stderr
log_type error
log_type warning
"""


class Mosquitto(ManagedProcess):
    """A mosquitto broker with persistence in its ``workdir`` (``kill`` and ``start`` bring back its
    sessions, subscriptions and queued messages); anonymous unless ``dynsec_file`` is given; TLS with
    ``tls``. ``url`` is its ``mqtt://`` (or ``mqtts://``) address."""

    name = "mosquitto"
    program = "mosquitto"
    fallback_paths = ("/usr/sbin/mosquitto",)
    install_hint = "run the README's test command (it runs apt-get install mosquitto)"
    stop_timeout_s = 5.0

    def __init__(
        self,
        *,
        workdir: Path | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        persistence: bool = True,
        dynsec_file: Path | None = None,
        tls: BrokerTls | None = None,
    ) -> None:
        super().__init__(workdir=workdir, port=port, host=host)
        self.persistence = persistence
        self.dynsec_file = dynsec_file
        self.tls = tls

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def command(self, program: str) -> list[str]:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(mosquitto_config(self.host, self.port, self.workdir, persistence=self.persistence,
                                         dynsec_file=self.dynsec_file, tls=self.tls))
        return [program, "-c", str(conf)]


INFLUXD_CONFIG = """\
reporting-disabled = true
bind-address = "{host}:{rpc_port}"
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
  bind-address = "{host}:{port}"
  log-enabled = false
  max-body-size = 0
  auth-enabled = {auth}
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
"""


class Influxd(ManagedProcess):
    """An InfluxDB 1.x server (Debian's ``influxdb``); ``url`` is its HTTP address. Its data lives in
    ``workdir``, so ``kill`` and ``start`` bring the same databases back. With ``admin`` (user,
    password) it enforces authentication, and that user is created (an admin) once it is up."""

    name = "influxd"
    program = "influxd"
    fallback_paths = ("/usr/bin/influxd",)
    install_hint = "run the README's test command (it installs influxdb)"
    start_timeout_s = 30.0

    def __init__(self, *, workdir: Path | None = None, port: int | None = None, host: str = "127.0.0.1",
                 admin: tuple[str, str] | None = None) -> None:
        super().__init__(workdir=workdir, port=port, host=host)
        self.rpc_port = free_port(host)
        self.admin = admin

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self, program: str) -> list[str]:
        conf = self.workdir / "influxdb.conf"
        conf.write_text(INFLUXD_CONFIG.format(host=self.host, dir=self.workdir, port=self.port, rpc_port=self.rpc_port,
                                              auth="true" if self.admin else "false"))
        return [program, "-config", str(conf)]

    def start(self, timeout_s: float | None = None) -> Self:
        super().start(timeout_s)
        if self.admin is not None and not self._has_users():  # a restart finds the user there already
            user, password = self.admin
            quoted = password.replace("\\", "\\\\").replace("'", "\\'")
            statement = f"CREATE USER \"{user}\" WITH PASSWORD '{quoted}' WITH ALL PRIVILEGES"
            body = urllib.parse.urlencode({"q": statement}).encode()
            request = urllib.request.Request(f"{self.url}/query", data=body, method="POST")
            with urllib.request.urlopen(request, timeout=10) as response:
                if response.status != 200:
                    raise ServiceError(f"influxd did not create the user {user!r}: {response.status}")
        return self

    def _has_users(self) -> bool:
        """Whether an unauthenticated query is refused (then the first user exists)."""
        try:
            with urllib.request.urlopen(f"{self.url}/query?q=SHOW+DATABASES", timeout=5):
                return False
        except urllib.error.HTTPError as exc:
            return exc.code == 401

    def ready(self) -> bool:
        return self.ping()

    def ping(self) -> bool:
        """Whether ``/ping`` answers 204 (the server is up and serving HTTP)."""
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                return bool(response.status == 204)
        except (urllib.error.URLError, OSError):
            return False
