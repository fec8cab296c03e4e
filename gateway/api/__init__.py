"""The REST API: request parsing, handlers and the OpenAPI document."""
