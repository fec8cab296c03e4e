"""What each route requires, declared on its handler.

Every route of the gateway declares who may call it, with one of these decorators on its handler::

    from gateway.auth import Role, requires

    @requires(Role.CLINICIAN)            # people with this role or a higher one
    async def acknowledge(request): ...

    @requires(Role.VIEWER, page=True)    # an HTML page: unauthenticated browsers go to /login
    @requires(Role.ADMIN, scrape=True)   # admins, or the metrics scraper's token
    @edges_only                          # edge nodes with their uplink credential, nobody else
    @public                              # anyone (health, the login page)

A route without a declaration stops the gateway at start-up (:func:`undeclared_routes`), so a new
route cannot be exposed by forgetting. Static files (the dashboard's and the login page's code) are
public.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from gateway.auth.roles import Role

H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])

ATTRIBUTE = "__iomt_access__"


@dataclass(frozen=True, slots=True)
class Access:
    """Who may call a route: people of ``role`` and above, edges, or anyone.

    ``page``: an HTML page (an unauthenticated browser is sent to the login page instead of a 401);
    ``scrape``: the metrics scraper's token is accepted too; ``large_body``: the route takes bodies up
    to the uplink's limit (:mod:`gateway.bodies`), others the JSON limit.
    """

    role: Role | None = None
    edges: bool = False
    page: bool = False
    scrape: bool = False
    large_body: bool = False

    @property
    def public(self) -> bool:
        return self.role is None and not self.edges

    def describe(self) -> str:
        """What the OpenAPI document and the docs say: ``public``, ``edge``, or the least role."""
        if self.edges:
            return "edge"
        if self.role is None:
            return "public"
        return f"{self.role.value}+scrape-token" if self.scrape else self.role.value


PUBLIC = Access()
EDGES = Access(edges=True, large_body=True)


def declare(access: Access) -> Callable[[H], H]:
    def mark(handler: H) -> H:
        setattr(handler, ATTRIBUTE, access)
        return handler

    return mark


def requires(role: Role, *, page: bool = False, scrape: bool = False) -> Callable[[H], H]:
    """The route needs a signed-in person with ``role`` or a higher one."""
    return declare(Access(role=role, page=page, scrape=scrape))


def public(handler: H) -> H:
    """Anyone may call the route."""
    return declare(PUBLIC)(handler)


def edges_only(handler: H) -> H:
    """Only edge nodes, authenticated by their uplink credential, may call the route."""
    return declare(EDGES)(handler)


def access_of(handler: object) -> Access | None:
    found = getattr(handler, ATTRIBUTE, None)
    return found if isinstance(found, Access) else None


def route_access(route: web.AbstractRoute) -> Access | None:
    """A route's declaration; static files are public."""
    if isinstance(route.resource, web.StaticResource):
        return PUBLIC
    return access_of(route.handler)


def undeclared_routes(app: web.Application) -> list[str]:
    """``METHOD path`` of every route that declares no access."""
    missing = []
    for route in app.router.routes():
        if route_access(route) is None:
            resource = route.resource
            missing.append(f"{route.method} {resource.canonical if resource else '?'}")
    return missing
