"""Authentication and authorisation at the gateway's HTTP API.

* :mod:`roles` — :class:`Role` (viewer < clinician < admin) and the :class:`Principal` of a request;
* :mod:`access` — the per-route declarations: :func:`requires`, :func:`public`, :func:`edges_only`;
* :mod:`middleware` — the checks every request passes (origin, authentication, role, content type);
* :mod:`users` — people, password hashes (:mod:`passwords`, scrypt), sessions and API tokens, in the
  gateway's state file; :func:`ensure_admin` for the first run;
* :mod:`edges` — edge uplink tokens behind the :class:`EdgeAuthority` protocol;
* :mod:`limiter` — login lockout and rate;
* :mod:`context` — for handlers: :func:`principal`, :func:`edge_node`, :func:`audit`;
* :mod:`install` — wires it all into an application.

To protect a new route, decorate its handler::

    from gateway.auth import Role, requires

    @requires(Role.CLINICIAN)
    async def set_limits(request): ...
    actor = principal(request).actor  # "user:ann"
"""

from gateway.auth.access import Access, edges_only, public, requires
from gateway.auth.context import audit, edge_node, principal
from gateway.auth.edges import EdgeAuthority, EdgeTokens
from gateway.auth.roles import Credential, Principal, PrincipalKind, Role
from gateway.auth.users import UserStore, ensure_admin

__all__ = [
    "Access", "Credential", "EdgeAuthority", "EdgeTokens", "Principal", "PrincipalKind", "Role", "UserStore",
    "audit", "edge_node", "edges_only", "ensure_admin", "principal", "public", "requires",
]
