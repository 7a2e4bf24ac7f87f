"""auth.json: the lookup order, key forms, and login/logout writing podman's file with mode 0600."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from kubeplay.errors import NotFoundError, UserError
from kubeplay.images import auth


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated HOME and runtime dir, as a rootless user sees them."""
    for name in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setattr("kubeplay.images.auth.is_rootless", lambda: True)
    return tmp_path


def encoded(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def write(path: Path, auths: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auths": auths}))


def test_round_trip_with_mode_0600(home: Path) -> None:
    path = auth.store_login("localhost:5000", "alice", "s3:cret")
    assert path == home / "run" / "containers" / "auth.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth.lookup("localhost:5000") == ("alice", "s3:cret")
    assert auth.lookup("localhost:5000/team/app") == ("alice", "s3:cret")
    assert auth.lookup("quay.io") is None
    assert [p.name for p in path.parent.iterdir()] == ["auth.json"], "no temporary file is left behind"


def test_login_replaces_and_keeps_other_entries(home: Path) -> None:
    auth.store_login("a.io", "u1", "p1")
    auth.store_login("b.io", "u2", "p2")
    auth.store_login("https://a.io/", "u3", "p3")
    data = json.loads(auth.write_path().read_text())
    assert set(data["auths"]) == {"a.io", "b.io"}
    assert auth.lookup("a.io") == ("u3", "p3")


def test_logout_one_and_all(home: Path) -> None:
    auth.store_login("a.io", "u1", "p1")
    auth.store_login("b.io", "u2", "p2")
    auth.remove_login("a.io")
    assert auth.lookup("a.io") is None and auth.lookup("b.io") == ("u2", "p2")
    with pytest.raises(NotFoundError, match="not logged in to a.io"):
        auth.remove_login("a.io")
    auth.remove_login(None, all=True)
    assert auth.lookup("b.io") is None
    assert stat.S_IMODE(auth.write_path().stat().st_mode) == 0o600


def test_explicit_authfile_is_the_only_file(home: Path) -> None:
    write(home / "run" / "containers" / "auth.json", {"a.io": {"auth": encoded("x", "y")}})
    explicit = home / "mine.json"
    auth.store_login("a.io", "me", "pw", authfile=str(explicit))
    assert auth.lookup("a.io", authfile=str(explicit)) == ("me", "pw")
    assert auth.lookup("a.io") == ("x", "y")
    assert stat.S_IMODE(explicit.stat().st_mode) == 0o600


def test_order_podman_before_docker(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(home / "home" / ".docker" / "config.json",
          {"https://index.docker.io/v1/": {"auth": encoded("docker", "1")}, "c.io": {"auth": encoded("d", "2")}})
    write(home / "home" / ".config" / "containers" / "auth.json", {"c.io": {"auth": encoded("config", "3")}})
    assert auth.lookup("docker.io") == ("docker", "1"), "docker's URL key names Docker Hub"
    assert auth.lookup("c.io") == ("config", "3")
    write(home / "run" / "containers" / "auth.json", {"c.io": {"auth": encoded("runtime", "4")}})
    assert auth.lookup("c.io") == ("runtime", "4")
    env_file = home / "env.json"
    write(env_file, {"c.io": {"auth": encoded("env", "5")}})
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(env_file))
    assert auth.lookup("c.io") == ("env", "5")
    assert auth.write_path() == env_file


def test_repository_scoped_entries_most_specific_first(home: Path) -> None:
    write(auth.write_path(), {"r.io": {"auth": encoded("host", "1")},
                              "r.io/team": {"auth": encoded("team", "2")}})
    assert auth.lookup("r.io/team/app") == ("team", "2")
    assert auth.lookup("r.io/other/app") == ("host", "1")


def test_root_uses_run_containers_0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setattr("kubeplay.images.auth.is_rootless", lambda: False)
    assert auth.write_path() == Path("/run/containers/0/auth.json")


@pytest.mark.parametrize("content, problem", [
    ("{not json", "cannot read"),
    ('{"auths": []}', "not an auth file"),
    ('{"auths": {"a.io": {"auth": "%%%"}}}', "base64"),
    ('{"auths": {"a.io": {"auth": "' + base64.b64encode(b"nocolon").decode() + '"}}}', "':'"),
])
def test_broken_files_are_named(home: Path, content: str, problem: str) -> None:
    path = home / "broken.json"
    path.write_text(content)
    with pytest.raises(UserError) as caught:
        auth.lookup("a.io", authfile=str(path))
    assert problem in caught.value.message and str(path) in caught.value.message


def test_entries_without_auth_are_skipped(home: Path) -> None:
    write(home / "home" / ".docker" / "config.json", {"a.io": {}})
    assert auth.lookup("a.io") is None


# -- `kubeplay login` / `logout` against an in-process registry --------------------------------

def run_cli(args: list[str], capsys: pytest.CaptureFixture, stdin: str = "") -> tuple[int, str, str]:
    import io
    import sys

    from kubeplay.cli.main import main

    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with pytest.raises(SystemExit) as exited:
            main(args)
    finally:
        sys.stdin = saved
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def test_login_verifies_then_saves_and_logout_removes(home: Path, capsys: pytest.CaptureFixture,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.test_distribution import running_registry

    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", str(home / "none.conf"))
    authfile = home / "auth.json"
    common = ["--root", str(home / "root"), "--runroot", str(home / "runroot")]
    with running_registry() as fake:
        fake.auth = "bearer"
        code, _, err = run_cli([*common, "login", fake.host, "-u", "alice", "--password-stdin",
                                "--authfile", str(authfile), "--no-tls-verify"], capsys, stdin="wrong\n")
        assert code == 1 and "unauthorized" in err and f"kubeplay login {fake.host}" in err
        assert not authfile.exists(), "refused credentials are not saved"

        code, out, _ = run_cli([*common, "login", f"http://{fake.host}/", "-u", "alice", "--password-stdin",
                                "--authfile", str(authfile), "--no-tls-verify"], capsys, stdin="secret\n")
        assert code == 0 and "Login Succeeded" in out
        assert auth.lookup(fake.host, authfile=str(authfile)) == ("alice", "secret")
        assert stat.S_IMODE(authfile.stat().st_mode) == 0o600

    code, out, _ = run_cli([*common, "logout", fake.host, "--authfile", str(authfile)], capsys)
    assert code == 0 and fake.host in out
    assert auth.lookup(fake.host, authfile=str(authfile)) is None
    code, _, err = run_cli([*common, "logout", fake.host, "--authfile", str(authfile)], capsys)
    assert code == 1 and "not logged in" in err
    code, _, _ = run_cli([*common, "logout", "--authfile", str(authfile)], capsys)
    assert code != 0, "logout needs HOST or --all"
