"""MQTT brokers the system can start itself: embedded amqtt (demo) and mosquitto (tests, benchmarks)."""
