"""Who may talk to the sandbox's server: the right `Host`, the page's own origin, the token.

On a loopback address (the default) only requests naming a loopback host (`127.0.0.1`,
`localhost`, `[::1]`, with the port) are answered, so a web site cannot reach the sandbox
through DNS rebinding. Opened to a network (`--host 0.0.0.0`), every request must carry the
secret token made at start: `?token=` in the address printed in the terminal, which the page
turns into a cookie. The page's API answers only its own origin: a request from another site
(`Origin` elsewhere or `null`, `Sec-Fetch-Site` cross-site) is refused. The Bot API emulator
(mounted for the bot) answers this computer only.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

COOKIE = "pinpoint_sandbox"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
FILE_CSP = "default-src 'none'; img-src 'self'; sandbox"
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
ALLOWED_FETCH_SITES = ("same-origin", "none")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """`host` (a name or an address to listen on) is this computer only."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def attachment(name: str) -> str:
    """A `Content-Disposition` that saves the file as `name` (RFC 6266, with a plain
    ASCII fallback)."""
    plain = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name) or "file"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def _refuse(message: str) -> web.HTTPForbidden:
    return web.HTTPForbidden(text=message + "\n")


class Guard:
    """The checks for one server: `attach(app)` before adding routes.

    `token`: None on a loopback address; otherwise every request needs it (`make_token()`).
    `bot_prefix`: the emulator's mount point, answered for connections from this computer
    only and without the page's checks (the bot has no cookie and sends no `Origin`)."""

    def __init__(self, host: str, token: str | None, bot_prefix: str) -> None:
        self.host = host
        self.token = token
        self.bot_prefix = bot_prefix
        self.port = 0  # set once the server listens

    def attach(self, app: web.Application) -> None:
        app.middlewares.append(self.middleware)
        app.on_response_prepare.append(self.add_headers)

    @staticmethod
    def make_token() -> str:
        return secrets.token_urlsafe(24)

    def allowed_hosts(self) -> set[str]:
        """The `Host` headers answered on a loopback address."""
        names = {*LOOPBACK_NAMES, f"[{self.host}]" if ":" in self.host else self.host}
        hosts = {f"{name}:{self.port}" for name in names}
        if self.port == 80:
            hosts |= names
        return {h.lower() for h in hosts}

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.token is None and request.host.lower() not in self.allowed_hosts():
            raise _refuse("This sandbox answers at 127.0.0.1 or localhost only.")
        if request.path == self.bot_prefix or request.path.startswith(self.bot_prefix + "/"):
            if not _from_this_computer(request):
                raise _refuse("The sandbox's Bot API is for the bot on this computer only.")
            return await handler(request)
        if self.token is not None:
            given = request.query.get("token") or request.cookies.get(COOKIE) or ""
            if not secrets.compare_digest(given.encode(), self.token.encode()):
                raise _refuse("This sandbox is open to the network and needs its token: open "
                              "the address printed in its terminal (…/?token=…).")
            if "token" in request.query and request.method == "GET" and request.path == "/":
                raise self._keep_token(request)
        if request.path.startswith("/api/"):
            self._same_origin(request)
        return await handler(request)

    @staticmethod
    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        """`on_response_prepare`: every answer forbids sniffing, framing and referrers; the
        page and its API keep to their own origin (files set a stricter policy, the scanner
        Mini App one that lets the page frame it)."""
        for name, value in SAFE_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)

    def _keep_token(self, request: web.Request) -> web.HTTPException:
        """`?token=` in the address: keep it in a cookie, and show the address without it."""
        query = request.rel_url.query.copy()
        del query["token"]
        response = web.HTTPSeeOther(request.rel_url.with_query(query))
        assert self.token is not None
        response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict", path="/")
        return response

    @staticmethod
    def _same_origin(request: web.Request) -> None:
        """Browsers say where a request comes from; only the page itself may use the API."""
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            raise _refuse("Only the sandbox page itself may use its API.")
        site = request.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ALLOWED_FETCH_SITES:
            raise _refuse("Only the sandbox page itself may use its API.")


def _from_this_computer(request: web.Request) -> bool:
    """The connection comes from this computer: a loopback peer, or the peer is the very
    address it connected to."""
    transport = request.transport
    if transport is None:
        return False
    peer, local = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback or (local and peer[0] == local[0]))
