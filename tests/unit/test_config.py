from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import EdgeConfig
from iomt.config import ConfigError, MqttConfig, load_config


def test_layers_apply_in_order(tmp_path: Path) -> None:
    path = tmp_path / "iomt.toml"
    path.write_text('[edge]\nnode_id = "from-file"\nsite = "ward-1"\n[edge.mqtt]\nurl = "mqtt://file:1883"\n')
    env = {"IOMT_EDGE__SITE": "ward-2", "IOMT_EDGE__MQTT__KEEPALIVE_S": "45", "UNRELATED": "x"}
    config = load_config(EdgeConfig, "edge", path=path, env=env, overrides={"node_id": "from-cli", "site": None})
    assert config.node_id == "from-cli"
    assert config.site == "ward-2"
    assert config.mqtt.url == "mqtt://file:1883"
    assert config.mqtt.keepalive_s == 45


def test_errors_name_the_field_and_describe_it() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(EdgeConfig, "edge", env={"IOMT_EDGE__UPLINK_BATCH": "0", "IOMT_EDGE__MQTT__URL": "http://x"})
    message = str(info.value)
    assert "uplink_batch" in message and "Records per uplink request" in message
    assert "mqtt.url" in message and "mqtt://" in message


def test_unknown_keys_are_errors() -> None:
    with pytest.raises(ConfigError, match="outbox_pth"):
        load_config(EdgeConfig, "edge", overrides={"outbox_pth": "x"})


def test_password_never_appears_in_errors_or_repr() -> None:
    config = MqttConfig(url="mqtts://broker:8883", username="nurse", password="hunter2")
    assert "hunter2" not in repr(config)
    assert config.use_tls and config.port == 8883
    with pytest.raises(ConfigError) as info:
        load_config(EdgeConfig, "edge", env={"IOMT_EDGE__MQTT__PASSWORD": "hunter2", "IOMT_EDGE__MQTT__PORT": "1"})
    assert "hunter2" not in str(info.value)


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(EdgeConfig, "edge", path=tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[edge\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(EdgeConfig, "edge", path=bad)
