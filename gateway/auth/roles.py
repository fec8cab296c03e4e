"""Who may do what: the roles of people, and the principal a request was authenticated as."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """A person's role; each includes the ones before it: viewer < clinician < admin.

    * viewer — reads patients, waveforms, events, alerts, edges and models;
    * clinician — also acknowledges and resolves alerts;
    * admin — also manages users, devices, edges and models, and reads the audit log and metrics.
    """

    VIEWER = "viewer"
    CLINICIAN = "clinician"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def includes(self, other: Role) -> bool:
        """Whether this role may do what ``other`` may."""
        return self.rank >= other.rank


class PrincipalKind(StrEnum):
    USER = "user"
    EDGE = "edge"
    #: The metrics scraper (Prometheus), authenticated by the configured scrape token.
    SCRAPER = "scraper"


class Credential(StrEnum):
    """How a principal authenticated."""

    SESSION = "session"
    TOKEN = "token"
    EDGE_TOKEN = "edge_token"
    SCRAPE_TOKEN = "scrape_token"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sent a request: a user with a role, an edge node, or the scraper.

    ``credential_id`` names the session or token used (its digest), so logout can revoke exactly it.
    """

    kind: PrincipalKind
    name: str
    role: Role | None
    credential: Credential
    credential_id: str = ""

    @property
    def actor(self) -> str:
        """The audit log's name for this principal: ``user:ann``, ``edge:edge-1``, ``scraper:metrics``."""
        return f"{self.kind.value}:{self.name}"

    def has(self, role: Role) -> bool:
        return self.kind is PrincipalKind.USER and self.role is not None and self.role.includes(role)
