"""The edge node: ingest, signal processing and inference next to the patients, durable uplink."""
