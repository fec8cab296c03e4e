"""Pure logic of the gateway's authentication: password hashing, login throttling, session and token
lifetimes (a fake clock), edge tokens, and secrets kept out of config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.auth import passwords
from gateway.auth.edges import EdgeTokens
from gateway.auth.limiter import MAX_LOCKOUT_S, LoginLimiter
from gateway.auth.roles import Credential, Role
from gateway.auth.users import UnknownUser, UserError, UserStore, ensure_admin

PASSWORD = "correct horse battery staple"


class Clock:
    def __init__(self, t: float = 1_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_password_hash_verifies_only_its_password_and_records_its_parameters():
    encoded = passwords.hash_password(PASSWORD)
    assert encoded.startswith("scrypt$15$8$1$") and PASSWORD not in encoded
    assert passwords.verify_password(PASSWORD, encoded)
    assert not passwords.verify_password(PASSWORD + "!", encoded)
    assert passwords.hash_password(PASSWORD) != encoded  # salted
    assert not passwords.needs_rehash(encoded)
    assert passwords.needs_rehash(passwords.hash_password(PASSWORD, log2_n=12))
    assert passwords.verify_password(PASSWORD, passwords.hash_password(PASSWORD, log2_n=12))
    for broken in ("", "md5$x", "scrypt$15$8$1$!!$!!", "scrypt$99$8$1$AAAA$AAAA"):
        assert not passwords.verify_password(PASSWORD, broken)


def test_the_dummy_hash_is_well_formed_so_unknown_names_cost_a_full_check():
    scheme, log2_n, r, p, salt, digest = passwords.DUMMY_HASH.split("$")
    import base64

    assert (scheme, int(log2_n), int(r), int(p)) == ("scrypt", passwords.LOG2_N, passwords.R, passwords.P)
    assert len(base64.b64decode(salt)) == passwords.SALT_BYTES and len(base64.b64decode(digest)) == passwords.HASH_BYTES


@pytest.mark.parametrize("bad", ["short", "x" * (passwords.MAX_LENGTH + 1)])
def test_the_password_policy_refuses_with_the_reason(bad):
    with pytest.raises(passwords.PasswordError, match="characters"):
        passwords.check_policy(bad)


def test_repeated_failures_lock_a_name_and_each_lockout_doubles():
    clock = Clock()
    limiter = LoginLimiter(max_failures=3, lockout_s=10, per_minute=1000, clock=clock)
    for _ in range(2):
        assert limiter.retry_after("ann", "10.0.0.1") == 0 and not limiter.failed("ann")
    assert limiter.failed("ann")  # the third failure locks
    assert limiter.retry_after("ann", "10.0.0.9") == pytest.approx(10)  # from any address
    assert limiter.retry_after("bob", "10.0.0.1") == 0  # other names are not affected
    clock.t += 10
    assert limiter.retry_after("ann", "10.0.0.1") == 0
    for _ in range(3):
        limiter.failed("ann")
    assert limiter.retry_after("ann", "10.0.0.1") == pytest.approx(20)  # the second lockout is twice as long
    clock.t += 20
    limiter.succeeded("ann")
    for _ in range(2):
        limiter.failed("ann")
    assert limiter.retry_after("ann", "10.0.0.1") == 0  # a success cleared the count
    for _lockout in range(40):
        for _failure in range(3):
            limiter.failed("eve")
        clock.t += MAX_LOCKOUT_S
    for _failure in range(3):
        limiter.failed("eve")
    assert limiter.retry_after("eve", "x") == pytest.approx(MAX_LOCKOUT_S)  # capped


def test_an_address_gets_a_number_of_attempts_per_minute_whatever_the_names():
    clock = Clock()
    limiter = LoginLimiter(max_failures=100, lockout_s=10, per_minute=3, clock=clock)
    assert [limiter.retry_after(f"user{i}", "10.0.0.1") for i in range(3)] == [0, 0, 0]
    assert limiter.retry_after("user9", "10.0.0.1") == pytest.approx(60)
    assert limiter.retry_after("user9", "10.0.0.2") == 0
    clock.t += 60.01
    assert limiter.retry_after("user9", "10.0.0.1") == 0


def test_the_limiter_forgets_the_oldest_names_instead_of_growing(monkeypatch):
    from gateway.auth import limiter as module

    monkeypatch.setattr(module, "MAX_TRACKED", 50)
    limiter = LoginLimiter(clock=Clock())
    for i in range(500):
        limiter.retry_after(f"made-up-{i}", f"10.0.{i // 250}.{i % 250}")
        limiter.failed(f"made-up-{i}")
    assert len(limiter._names) <= 50 and len(limiter._addresses) <= 50


def test_sessions_end_when_idle_or_at_their_maximum_and_tokens_at_their_expiry(tmp_path: Path):
    clock = Clock()
    store = UserStore(tmp_path / "state.sqlite", session_idle_s=600, session_max_s=3600, clock=clock)
    store.add("ann", Role.CLINICIAN, PASSWORD)
    session = store.open_session("ann")
    token = store.issue_token("ann", "script", ttl_s=7200)
    who = store.authenticate(session.secret, Credential.SESSION)
    assert who is not None and (who.name, who.role, who.actor) == ("ann", Role.CLINICIAN, "user:ann")
    assert store.authenticate(session.secret, Credential.TOKEN) is None  # a cookie is not a bearer token
    assert store.authenticate(token.secret, Credential.SESSION) is None
    for _ in range(5):  # active: each request within the idle time keeps it
        clock.t += 590
        assert store.authenticate(session.secret, Credential.SESSION) is not None
    clock.t += 700  # past the maximum (3600 s after login) whatever the activity
    assert store.authenticate(session.secret, Credential.SESSION) is None
    idle = store.open_session("ann")
    clock.t += 601
    assert store.authenticate(idle.secret, Credential.SESSION) is None
    assert store.authenticate(token.secret, Credential.TOKEN) is not None  # tokens have no idle time
    clock.t = 1_000.0 + 7200
    assert store.authenticate(token.secret, Credential.TOKEN) is None
    assert store.credentials("ann") == []  # expired ones were deleted on the way


def test_a_new_password_or_removal_ends_every_session_and_the_role_applies_at_once(tmp_path: Path):
    store = UserStore(tmp_path / "state.sqlite")
    store.add("ann", Role.VIEWER, PASSWORD)
    store.add("root", Role.ADMIN, PASSWORD)
    session, token = store.open_session("ann"), store.issue_token("ann", "t", 3600)
    store.set_role("ann", Role.CLINICIAN)
    assert store.authenticate(token.secret, Credential.TOKEN).role is Role.CLINICIAN  # type: ignore[union-attr]
    store.set_password("ann", "another long password")
    assert store.authenticate(session.secret, Credential.SESSION) is None
    assert store.authenticate(token.secret, Credential.TOKEN) is None
    assert store.verify("ann", PASSWORD) is None and store.verify("ann", "another long password") is not None
    again = store.open_session("ann")
    store.remove("ann")
    assert store.authenticate(again.secret, Credential.SESSION) is None and store.get("ann") is None
    with pytest.raises(UserError, match="last admin"):
        store.remove("root")
    with pytest.raises(UserError, match="last admin"):
        store.set_role("root", Role.VIEWER)
    with pytest.raises(UnknownUser):
        store.set_password("ghost", PASSWORD)
    with pytest.raises(UserError, match="exists"):
        store.add("root", Role.VIEWER, PASSWORD)
    with pytest.raises(UserError, match="invalid user name"):
        store.add("_x y", Role.VIEWER, PASSWORD)
    with pytest.raises(UserError, match="unknown role"):
        store.add("zed", "superuser", PASSWORD)


def test_secrets_are_stored_only_as_hashes(tmp_path: Path):
    store = UserStore(tmp_path / "state.sqlite")
    store.add("ann", Role.VIEWER, PASSWORD)
    session, token = store.open_session("ann"), store.issue_token("ann", "t", 3600)
    edges = EdgeTokens(tmp_path / "state.sqlite")
    edge = edges.issue("edge-1")
    store.close()
    edges.close()
    raw = b"".join(f.read_bytes() for f in tmp_path.glob("state.sqlite*"))  # the WAL too, while there is one
    for secret in (PASSWORD, session.secret, token.secret, edge.partition(".")[2]):
        assert secret.encode() not in raw
    assert oct((tmp_path / "state.sqlite").stat().st_mode & 0o777) == "0o600"


def test_the_first_run_creates_one_admin_and_returns_its_password_once(tmp_path: Path):
    path = tmp_path / "state.sqlite"
    password = ensure_admin(path)
    assert password is not None and len(password) >= 20
    assert ensure_admin(path) is None
    store = UserStore(path)
    assert [(u.name, u.role) for u in store.users()] == [("admin", Role.ADMIN)]
    assert store.verify("admin", password) is not None


def test_edge_tokens_name_their_node_and_a_new_one_replaces_the_old(tmp_path: Path):
    edges = EdgeTokens(tmp_path / "state.sqlite")
    first = edges.issue("edge-1")
    assert first.startswith("edge-1.") and edges.edge_for_token(first) == "edge-1"
    second = edges.issue("edge-1")
    assert edges.edge_for_token(first) is None and edges.edge_for_token(second) == "edge-1"
    other = edges.issue("edge-2")
    _node, _, secret = other.partition(".")
    assert edges.edge_for_token(f"edge-1.{secret}") is None  # another node's secret under this name
    for bad in ("", "edge-1", ".", "edge-1.", f"edge-9.{secret}", "edge-1.x.y"):
        assert edges.edge_for_token(bad) is None
    assert edges.revoke("edge-2") and edges.edge_for_token(other) is None and not edges.revoke("edge-2")
    assert [n for n, _ in edges.nodes()] == ["edge-1"]
    with pytest.raises(ValueError, match="invalid edge node"):
        edges.issue("../etc")


def test_config_errors_never_show_a_token_or_secret():
    from edge.config import EdgeConfig
    from iomt.config import ConfigError, load_config

    with pytest.raises(ConfigError) as info:
        load_config(EdgeConfig, "edge", env={}, overrides={"uplink_token": ["the-secret-token-value"]})
    assert "the-secret-token-value" not in str(info.value) and "uplink_token = ***" in str(info.value)
    with pytest.raises(ConfigError, match="not both"):
        load_config(EdgeConfig, "edge", env={}, overrides={"uplink_token": "a", "uplink_token_file": "/x"})
    config = load_config(EdgeConfig, "edge", env={"IOMT_EDGE__UPLINK_TOKEN": "edge-1.s3cret"})
    assert config.uplink_secret() == "edge-1.s3cret" and "s3cret" not in repr(config)
