"""The MQTT broker the application starts itself: embedded amqtt (``iomt broker``, ``iomt demo``).
Tests and benchmarks start a real mosquitto through ``testsupport.services`` instead."""
