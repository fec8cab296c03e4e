"""HTTPS for the gateway: the server's TLS context from the configured certificate and key."""

from __future__ import annotations

import ssl

from gateway.config import HttpsConfig


class TlsSetupError(ValueError):
    """The certificate or key cannot be used; the message names the file and what to do."""


def server_context(config: HttpsConfig) -> ssl.SSLContext:
    """A server context: TLS 1.2 or newer, the configured certificate chain and key."""
    for name, path in (("tls.cert_file", config.cert_file), ("tls.key_file", config.key_file)):
        if not path.is_file():
            raise TlsSetupError(f"{name} {path} does not exist; point it at a PEM file "
                                "(the demo's are made by `iomt security init`)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.cert_file, config.key_file)
    except (ssl.SSLError, OSError) as exc:
        raise TlsSetupError(f"cannot load the certificate {config.cert_file} with the key {config.key_file}: {exc}; "
                            "both must be PEM and belong together") from None
    return context
