"""The service launchers tests and benchmarks use: real mosquitto / influxd, started, restarted, stopped,
and a start that fails says why with the server's own log."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from testsupport.net import port_open
from testsupport.services import Influxd, ManagedProcess, Mosquitto, ServiceError


def test_mosquitto_answers_comes_back_on_the_same_port_after_a_kill_and_cleans_up() -> None:
    broker = Mosquitto()
    workdir = broker.workdir
    with broker:
        assert broker.url == f"mqtt://127.0.0.1:{broker.port}" and port_open("127.0.0.1", broker.port)
        pid = broker.pid
        broker.kill()
        assert not broker.running and workdir.is_dir()
        broker.start()
        assert broker.pid != pid and port_open("127.0.0.1", broker.port)
    assert not workdir.exists(), "a directory the launcher made is removed on stop"


def test_a_given_workdir_is_kept(tmp_path: Path) -> None:
    with Influxd(workdir=tmp_path / "influx") as server:
        assert server.ping()
    assert not server.ping()
    assert (tmp_path / "influx" / "influxdb.conf").is_file()


def test_a_server_that_cannot_start_raises_with_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:  # bound, not listening: mosquitto cannot bind it and nothing answers there
        taken.bind(("127.0.0.1", 0))
        broker = Mosquitto(workdir=tmp_path / "m", port=taken.getsockname()[1])
        try:
            with pytest.raises(ServiceError) as info:
                broker.start()
        finally:
            broker.stop()
    message = str(info.value)
    assert "mosquitto exited with status" in message
    assert "Address already in use" in message, message
    assert not broker.running


def test_a_missing_program_is_a_clear_error(tmp_path: Path) -> None:
    class Missing(ManagedProcess):
        name = "missing"
        program = "iomt-no-such-program"

        def command(self, program: str) -> list[str]:
            return [program]

    with pytest.raises(ServiceError, match="iomt-no-such-program is not installed; run the README's test command"):
        Missing(workdir=tmp_path).start()


def test_a_server_that_never_answers_is_stopped(tmp_path: Path) -> None:
    class Silent(ManagedProcess):
        name = "silent"
        program = "sleep"

        def command(self, program: str) -> list[str]:
            return ["sh", "-c", "echo warming up; exec sleep 30"]

    server = Silent(workdir=tmp_path)
    with pytest.raises(ServiceError, match=r"silent did not answer within 0.5 s(.|\n)*warming up"):
        server.start(timeout_s=0.5)
    assert not server.running
