"""Model updates while streams flow, refusal of bad files, and an edge without TensorFlow or Keras."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from edge.registry import ModelRegistry
from gateway.store.base import EventQuery
from iomt.config import MqttConfig
from iomt.transport.mqtt import MqttBus
from models.runtime import RELEASED_DIR
from tests.e2e.scripted import publish_realtime, scripted_motion
from tests.integration.helpers import edge_config, enrol, start_edge, wait_until

ROOT = Path(__file__).resolve().parents[2]


def copy_model(name: str, target: Path) -> Path:
    shutil.copytree(RELEASED_DIR / name, target / name, ignore=shutil.ignore_patterns("*.npz"))
    return target / name


def publish_version(model_dir: Path, name: str, version: str) -> None:
    """Release a new version the way a deployment would: metadata replaced atomically."""
    meta = json.loads((model_dir / f"{name}.json").read_text())
    meta["version"] = version
    tmp = model_dir / f".{name}.json.tmp"
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, model_dir / f"{name}.json")


def test_corrupt_or_mismatched_files_are_refused_and_the_old_model_keeps_running(tmp_path: Path) -> None:
    model_dir = copy_model("fall", tmp_path)
    registry = ModelRegistry(tmp_path, ("fall",))
    assert [c.new_version for c in registry.poll()] == [json.loads((model_dir / "fall.json").read_text())["version"]]
    running = registry.current("fall")
    assert running is not None
    data = (model_dir / "fall.tflite").read_bytes()
    (model_dir / "fall.tflite").write_bytes(data[: len(data) // 2])  # a truncated upload
    change = registry.poll()[0]
    assert change.new_version is None and change.error is not None and "sha256" in change.error
    assert registry.current("fall") is running  # still the old one
    (model_dir / "fall.tflite").write_bytes(data)
    meta = json.loads((model_dir / "fall.json").read_text())
    meta["input"]["shape"] = [1, 7, 7]
    meta["version"] = "9.9.9"
    (model_dir / "fall.json").write_text(json.dumps(meta))
    change = registry.poll()[0]
    assert change.error is not None and "input" in change.error
    assert registry.current("fall") is running
    assert registry.poll() == []  # a refused file is not retried until it changes


@pytest.mark.slow
async def test_a_model_update_mid_stream_swaps_versions_without_losing_a_window(
    tmp_path: Path, mqtt_config: MqttConfig, gateway: object
) -> None:
    site = f"swap{uuid.uuid4().hex[:6]}"
    models = tmp_path / "models"
    model_dir = copy_model("fall", models)
    old = json.loads((model_dir / "fall.json").read_text())["version"]
    url = gateway.url  # type: ignore[attr-defined]
    # a screen of 1 g makes every second of walking an impact window: a steady stream through the swap
    config = edge_config(tmp_path, mqtt_config, url, site, uplink_token=enrol(gateway, f"edge-{site}"),
                         models_dir=models, models=("fall",), model_poll_s=0.2,
                         fall_screen_g=1.0)
    node = await start_edge(config)
    devices = [scripted_motion(f"walker-{i}", ["walking"], 12.0, seed=30 + i) for i in range(3)]
    bus = MqttBus(mqtt_config, f"pub-{site}")
    await asyncio.to_thread(bus.start)
    try:
        publisher = publish_realtime(bus, site, devices, time.time_ns() // 1000 + 200_000)
        await asyncio.sleep(6.0)
        publish_version(model_dir, "fall", "2.0.0")
        await asyncio.to_thread(publisher.join, 20)
        await asyncio.sleep(1.5)
        await wait_until(lambda: node.outbox.pending == 0, 20, "every event in the store")
    finally:
        await asyncio.to_thread(bus.stop)
        await asyncio.to_thread(node.stop, 2.0)
    stats = node.processor.engine.stats["fall"]
    assert stats.windows == stats.inferences and stats.no_model == 0  # every window went through a model
    store = gateway.store  # type: ignore[attr-defined]
    received = store.events(EventQuery(model="fall", kind="inference", limit=100_000))  # the durable path
    versions_by_device: dict[str, list[tuple[int, str]]] = {}
    for record in received:
        if record.model == "fall" and record.kind == "inference":
            versions_by_device.setdefault(record.device, []).append((record.window_end_us, record.model_version))
    for rows in versions_by_device.values():
        rows.sort()
        seen = [v for _, v in rows]
        assert seen[0] == old and seen[-1] == "2.0.0", seen
        switch = seen.index("2.0.0")
        assert all(v == old for v in seen[:switch]) and all(v == "2.0.0" for v in seen[switch:])
    assert len(versions_by_device) == 3
    # every window that went through a model has its inference event in the store
    assert sum(len(rows) for rows in versions_by_device.values()) == stats.inferences


def test_the_edge_infers_with_tensorflow_and_keras_unimportable(tmp_path: Path) -> None:
    script = r"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras", "jax", "torch"):
            raise ImportError(f"{name} is not installed on this edge device")
sys.meta_path.insert(0, Block())
for banned in ("tensorflow", "keras"):
    try:
        __import__(banned)
    except ImportError:
        pass
    else:
        raise SystemExit(f"{banned} imported")
import time
import numpy as np
from edge.config import EdgeConfig
from edge.processor import EdgeProcessor
from iomt.wire import topics
from iomt.wire.frames import encode_frame, make_frame
processor = EdgeProcessor(EdgeConfig(models=("fall",), fall_screen_g=1.0))
processor.registry.poll()
assert processor.registry.current("fall") is not None, processor.registry.errors()
t0 = 1_764_000_000_000_000
rng = np.random.default_rng(0)
for k in range(8):
    acc = np.column_stack([rng.normal(0, 0.05, 25), rng.normal(0, 0.05, 25), 1 + rng.normal(0, 0.05, 25)])
    frame = make_frame("p1", "acc", k, t0 + k * 500_000, 50.0, np.round(acc * 4096).astype(np.int16), 1 / 4096)
    processor.handle(topics.data("default", "p1", "acc"), encode_frame(frame))
stats = processor.engine.stats["fall"]
assert stats.inferences > 0, stats
assert not any(m.split(".")[0] in ("tensorflow", "keras") for m in sys.modules)
print("inferences", stats.inferences)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "inferences" in result.stdout
