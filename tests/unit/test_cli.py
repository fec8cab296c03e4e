from __future__ import annotations

import pytest

from iomt_app.cli import build_parser, main


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)  # type: ignore[arg-type]


def test_help_lists_the_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in ("demo", "sim", "edge", "gateway", "broker", "bench"):
        assert name in out


@pytest.mark.parametrize("command", subcommands())
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: iomt " + command in capsys.readouterr().out


def test_a_bad_config_value_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edge", "--broker", "http://nope", "--gateway", "http://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "mqtt.url" in err and "mqtt://" in err
