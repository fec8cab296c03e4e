"""The commands on the gateway's state and audit files: `iomt users`, `iomt edge-tokens` and
`iomt audit verify|list` — tampering with the audit log is caught through the command."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.auth import EdgeTokens, UserStore
from gateway.auth.roles import Credential, Role
from iomt_app.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str, str, str]:
    state, audit = tmp_path / "state.sqlite", tmp_path / "audit.sqlite"
    return "--state", str(state), "--audit", str(audit)


def test_users_add_list_role_passwd_token_remove_and_each_change_is_audited(capsys, monkeypatch, files, tmp_path):
    code, out, _ = run(capsys, "users", "add", "ann", "--role", "clinician", *files)
    assert code == 0 and "added ann (clinician)" in out
    generated = out.split("password (shown once, stored only as a hash): ")[1].strip()
    store = UserStore(tmp_path / "state.sqlite")
    assert store.verify("ann", generated) is not None
    run(capsys, "users", "add", "root", "--role", "admin", *files)
    code, out, _ = run(capsys, "users", "list", *files)
    assert [line.split()[:2] for line in out.splitlines()] == [["ann", "clinician"], ["root", "admin"]]
    assert run(capsys, "users", "role", "ann", "viewer", *files)[0] == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("a password she chose\n"))
    code, out, _ = run(capsys, "users", "passwd", "ann", "--password-stdin", *files)
    assert code == 0 and "a password she chose" not in out and store.verify("ann", "a password she chose")
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    code, _, err = run(capsys, "users", "passwd", "ann", "--password-stdin", *files)
    assert code == 2 and "at least 10 characters" in err
    code, out, err = run(capsys, "users", "token", "ann", "--label", "export", *files)
    token = out.strip()
    assert code == 0 and token.startswith("iomt_") and "shown once" in err
    assert store.authenticate(token, Credential.TOKEN).role is Role.VIEWER  # type: ignore[union-attr]
    code, _, err = run(capsys, "users", "remove", "root", *files)
    assert code == 2 and "last admin" in err
    assert run(capsys, "users", "remove", "ann", *files)[0] == 0
    assert run(capsys, "users", "remove", "ann", *files)[0] == 2
    store.close()
    log = AuditLog(tmp_path / "audit.sqlite")
    entries = log.entries()
    assert [(e.action, e.target) for e in entries] == [
        ("user.add", "user:ann"), ("user.add", "user:root"), ("user.role", "user:ann"), ("user.passwd", "user:ann"),
        ("token.issue", "user:ann"), ("user.remove", "user:ann")]
    assert all(e.actor.startswith("cli:") for e in entries)
    assert all(generated not in json.dumps(dict(e.detail)) and token not in json.dumps(dict(e.detail))
               for e in entries)


def test_edge_tokens_issue_to_a_private_file_list_and_revoke(capsys, files, tmp_path):
    out_file = tmp_path / "creds" / "edge-1.uplink-token"
    code, out, _ = run(capsys, "edge-tokens", "issue", "edge-1", "--out", str(out_file), *files)
    assert code == 0 and str(out_file) in out
    token = out_file.read_text().strip()
    assert oct(out_file.stat().st_mode & 0o777) == "0o600" and token not in out
    tokens = EdgeTokens(tmp_path / "state.sqlite")
    assert tokens.edge_for_token(token) == "edge-1"
    code, out, _ = run(capsys, "edge-tokens", "list", *files)
    assert out.split()[0] == "edge-1"
    assert run(capsys, "edge-tokens", "revoke", "edge-1", *files)[0] == 0
    assert tokens.edge_for_token(token) is None
    assert run(capsys, "edge-tokens", "revoke", "edge-1", *files)[0] == 2
    assert run(capsys, "edge-tokens", "issue", "bad node", *files)[0] == 2
    actions = [(e.action, e.target) for e in AuditLog(tmp_path / "audit.sqlite").entries()]
    assert actions == [("edge.token.issue", "edge:edge-1"), ("edge.token.revoke", "edge:edge-1")]


def _audit(tmp_path: Path, n: int = 5) -> Path:
    path = tmp_path / "audit.sqlite"
    log = AuditLog(path)
    for i in range(n):
        log.append("user:ann", "alert.acknowledge", f"alert-{i}", {"device": f"p{i}"})
    log.close()
    return path


def test_audit_verify_prints_ok_and_the_head_then_names_the_first_altered_entry(capsys, tmp_path):
    path = _audit(tmp_path)
    code, out, _ = run(capsys, "audit", "verify", "--db", str(path))
    head = AuditLog(path).verify().head
    assert code == 0 and out.strip() == f"OK: 5 entries, head {head}"
    assert run(capsys, "audit", "verify", "--db", str(path), "--expect-head", head)[0] == 0
    code, out, _ = run(capsys, "audit", "list", "--db", str(path), "--since", "3")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["4", "5"]
    code, out, _ = run(capsys, "audit", "list", "--db", str(path), "--json", "--limit", "1")
    assert json.loads(out)["target"] == "alert-0"

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("""UPDATE audit SET detail = '{"device":"p9"}' WHERE seq = 3""")  # someone edits history
    db.close()
    code, out, _ = run(capsys, "audit", "verify", "--db", str(path))
    assert code == 1 and out.startswith("BROKEN: entry 3 was altered (first bad entry: 3)")


def test_audit_verify_catches_removed_newest_entries_and_a_rewritten_log_against_a_kept_head(capsys, tmp_path):
    path = _audit(tmp_path)
    kept = AuditLog(path).verify().head
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DELETE FROM audit WHERE seq >= 4")
    db.close()
    code, out, _ = run(capsys, "audit", "verify", "--db", str(path))
    assert code == 1 and "removed from the end" in out
    (tmp_path / "again").mkdir()
    rewritten = _audit(tmp_path / "again", 5)  # a consistent forgery of the whole file, head included
    assert run(capsys, "audit", "verify", "--db", str(rewritten))[0] == 0
    code, out, _ = run(capsys, "audit", "verify", "--db", str(rewritten), "--expect-head", kept)
    assert code == 1 and "not the expected" in out
    assert run(capsys, "audit", "verify", "--db", str(tmp_path / "missing.sqlite"))[0] == 2


def test_the_installed_command_exits_non_zero_on_a_broken_chain(tmp_path):
    path = _audit(tmp_path)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DELETE FROM audit WHERE seq = 2")
    db.close()
    result = subprocess.run([sys.executable, "-m", "iomt_app", "audit", "verify", "--db", str(path)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1 and "entry 2 is missing" in result.stdout


def test_the_gateways_first_start_leaves_the_admin_password_in_a_private_file_once(tmp_path, caplog):
    from iomt_app.commands.gateway import first_admin

    state = tmp_path / "var" / "state.sqlite"
    path = first_admin(state)
    assert path is not None and oct(path.stat().st_mode & 0o777) == "0o600"
    password = path.read_text().strip()
    assert UserStore(state).verify("admin", password) is not None
    assert password not in caplog.text and str(path) in caplog.text
    assert first_admin(state) is None
