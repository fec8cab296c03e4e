"""``iomt bench mqtt``: CPU per received QoS 1 message, paho (baseline) vs the bulk client.

A subscriber process (pinned to one core) receives ``--messages`` QoS 1 messages through a real
mosquitto with manual acknowledgement in batches (what the edge does) and reports its own CPU
time; the load comes from another process on the other core, as fast as the broker takes it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import cpus
from iomt.config import MqttConfig
from iomt.transport import ReceivedMessage
from iomt.transport.bulk_mqtt import BulkMqttBus
from iomt.transport.mqtt import MqttBus
from testsupport.services import Mosquitto

CLIENTS: dict[str, type[MqttBus] | type[BulkMqttBus]] = {"paho": MqttBus, "bulk": BulkMqttBus}
TOPIC = "iomt/v1/bench/patient-{:04d}/ecg"
ACK_BATCH = 500


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("mqtt", help="MQTT receive cost: paho vs the bulk client")
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--payload", type=int, default=536, help="bytes per message (an ECG frame is ~536)")
    p.add_argument("--json", type=Path, help="write the results here")
    p.set_defaults(func=run)


def subscribe_main(url: str, client: str, messages: int) -> None:
    """The measured side (run in its own process): receive, ack in batches, report CPU."""
    cpus.pin(0)
    batch: list[ReceivedMessage] = []
    done = [0]
    bus = CLIENTS[client](MqttConfig(url=url), f"bench-sub-{client}", clean_session=False, manual_ack=True)

    def on_message(message: ReceivedMessage) -> None:
        batch.append(message)
        done[0] += 1
        if len(batch) >= ACK_BATCH or done[0] == messages:
            bus.ack_many(batch)
            batch.clear()

    bus.subscribe("iomt/v1/bench/#", on_message)
    bus.start()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while done[0] == 0:
        time.sleep(0.001)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while done[0] < messages:
        time.sleep(0.01)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    bus.stop()
    sys.stdout.write(json.dumps({"received": done[0], "cpu_s": cpu, "wall_s": wall}) + "\n")
    sys.stdout.flush()


def _measure(broker: Mosquitto, client: str, messages: int, payload: bytes) -> dict[str, Any]:
    sub = subprocess.Popen([sys.executable, "-m", "benchmarks.mqtt", broker.url, client, str(messages)],
                           stdout=subprocess.PIPE, text=True)
    assert sub.stdout is not None
    if sub.stdout.readline().strip() != "ready":
        raise RuntimeError(f"{client} subscriber did not start")
    time.sleep(0.3)
    cpus.pin(1)
    with BulkMqttBus(MqttConfig(url=broker.url), f"bench-pub-{client}") as pub:
        last = None
        for i in range(messages):
            last = pub.publish(TOPIC.format(i % 1000), payload)
        assert last is not None and last.wait(120)
    out, _ = sub.communicate(timeout=300)
    result = json.loads(out.strip().splitlines()[-1])
    result["cpu_us_per_message"] = round(result["cpu_s"] / result["received"] * 1e6, 2)
    result["messages_per_s"] = round(result["received"] / result["wall_s"], 1)
    result["messages_per_cpu_s"] = round(result["received"] / result["cpu_s"], 1)
    return dict(result)


def run(args: argparse.Namespace) -> int:
    payload = bytes(range(256)) * (args.payload // 256) + bytes(args.payload % 256)
    with Mosquitto() as broker:
        baseline = _measure(broker, "paho", args.messages, payload)
        bulk = _measure(broker, "bulk", args.messages, payload)
    out = {**bulk, "client": "bulk", "baseline": {**baseline, "client": "paho"},
           "cpu_ratio": round(baseline["cpu_s"] / bulk["cpu_s"], 2), "messages": args.messages,
           "payload_bytes": args.payload}
    text = json.dumps(out, indent=2)
    if args.json is not None:
        args.json.write_text(text + "\n")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    subscribe_main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
