"""Device simulators: patients' wearables publishing over MQTT, with ground truth."""
