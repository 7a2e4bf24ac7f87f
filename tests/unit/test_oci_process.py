"""Command/args semantics, env layering, working dir and user resolution against a fake rootfs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubeplay.errors import ManifestError, UserError
from kubeplay.model.image import ImageConfig
from kubeplay.model.plan import ContainerPlan, EnvVar, SecurityPlan
from kubeplay.oci.process import (
    container_env,
    container_user,
    effective_security,
    resolve_argv,
    with_env,
    with_user,
    working_dir,
)
from kubeplay.oci.spec import default_spec
from kubeplay.oci.users import parse_group, parse_passwd, read_rootfs_file, resolve_in_root, resolve_user

IMAGE = ImageConfig(entrypoint=("/entry",), cmd=("serve", "--port=80"))


@pytest.mark.parametrize(
    ("command", "args", "image", "expected"),
    [
        (("/bin/sh", "-c"), None, IMAGE, ["/bin/sh", "-c"]),  # command drops CMD
        (None, ("run",), IMAGE, ["/entry", "run"]),  # args replace CMD only
        (("/bin/echo",), ("hi",), IMAGE, ["/bin/echo", "hi"]),
        (None, None, IMAGE, ["/entry", "serve", "--port=80"]),
        (None, None, ImageConfig(cmd=("/bin/sh",)), ["/bin/sh"]),
        (None, ("x",), ImageConfig(cmd=("/bin/sh",)), ["x"]),
        (("/bin/true",), (), ImageConfig(), ["/bin/true"]),
    ],
)
def test_argv_table(command, args, image, expected):
    plan = ContainerPlan(name="c", image="img", command=command, args=args)
    assert resolve_argv(plan, image) == expected


@pytest.mark.parametrize(("command", "args"), [(None, None), ((), None), (None, ())])
def test_nothing_to_run(command, args):
    plan = ContainerPlan(name="web", image="example/img", command=command, args=args)
    with pytest.raises(ManifestError, match='"web".*nothing to run') as info:
        resolve_argv(plan, ImageConfig())
    assert "command" in info.value.hint


def test_env_layers_later_wins_first_position_kept():
    image = ImageConfig(env=("PATH=/image/bin", "A=image", "B=image", "NOEQUALS"))
    plan = ContainerPlan(name="c", image="i", env=(EnvVar("B", "plan"), EnvVar("C", "plan"),
                                                   EnvVar("IP", field_path="status.podIP")))
    env = container_env(plan, image, "pod-1", extra_env=(("IP", "10.0.0.5"),))
    assert env == ["PATH=/image/bin", "HOSTNAME=pod-1", "A=image", "B=plan", "NOEQUALS=", "C=plan",
                   "IP=10.0.0.5"]


def test_env_default_path_and_hostname_overridable():
    plan = ContainerPlan(name="c", image="i", env=(EnvVar("HOSTNAME", "mine"),))
    env = container_env(plan, ImageConfig(), "pod-1")
    assert env[0].startswith("PATH=/usr/local/sbin:")
    assert "HOSTNAME=mine" in env and "HOSTNAME=pod-1" not in env


def test_with_env_merges_into_spec():
    spec = default_spec()
    with_env(["PATH=/x", "A=1"])(spec)
    assert spec["process"]["env"] == ["PATH=/x", "A=1"]


def test_working_dir_precedence():
    in_image = ImageConfig(working_dir="/i")
    assert working_dir(ContainerPlan(name="c", image="i", working_dir="/w"), in_image) == "/w"
    assert working_dir(ContainerPlan(name="c", image="i"), ImageConfig(working_dir="/i")) == "/i"
    assert working_dir(ContainerPlan(name="c", image="i"), ImageConfig()) == "/"
    with pytest.raises(ManifestError):
        working_dir(ContainerPlan(name="c", image="i", working_dir="rel"), ImageConfig())


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "# comment\n"
        "broken:line\n"
        "app:x:1000:1000::/home/app:/bin/sh\n"
        "nobody:x:65534:65534::/:/bin/false\n"
    )
    (root / "etc" / "group").write_text(
        "root:x:0:\n"
        "app:x:1000:\n"
        "audio:x:29:app,other\n"
        "video:x:44:app\n"
        "staff:x:50:\n"
    )
    return root


@pytest.mark.parametrize(
    ("user", "group", "uid", "gid", "extra"),
    [
        ("", "", 0, 0, ()),
        ("app", "", 1000, 1000, (29, 44)),
        ("1000", "", 1000, 1000, (29, 44)),
        ("1000:50", "", 1000, 50, (29, 44)),
        ("app:staff", "", 1000, 50, (29, 44)),
        ("4242", "", 4242, 0, ()),  # unknown numeric uid: gid 0, as runtimes do
        ("4242:7", "", 4242, 7, ()),
        ("app", "77", 1000, 77, (29, 44)),
    ],
)
def test_resolve_user(rootfs, user, group, uid, gid, extra):
    resolved = resolve_user(rootfs, user, group, container="web")
    assert (resolved.uid, resolved.gid, resolved.additional_gids) == (uid, gid, extra)


def test_unknown_user_name(rootfs):
    with pytest.raises(UserError, match='"web".*"ghost"'):
        resolve_user(rootfs, "ghost", container="web")


def test_unknown_group_name(rootfs):
    with pytest.raises(UserError, match='"web".*group "nogroup"'):
        resolve_user(rootfs, "app:nogroup", container="web")


def test_missing_passwd_numeric_ok(tmp_path):
    (tmp_path / "empty").mkdir()
    assert resolve_user(tmp_path / "empty", "123:45").gid == 45
    with pytest.raises(UserError):
        resolve_user(tmp_path / "empty", "app")


def test_symlinks_stay_inside_rootfs(tmp_path):
    outside = tmp_path / "host-passwd"
    outside.write_text("evil:x:0:0::/:/bin/sh\n")
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "real").mkdir()
    (root / "real" / "passwd").write_text("app:x:1000:1000::/:/bin/sh\n")
    # an absolute link resolves against the rootfs, a relative one cannot climb above it
    os.symlink("/real/passwd", root / "etc" / "passwd")
    os.symlink("../../../../host-passwd", root / "etc" / "group")
    assert resolve_in_root(root, "/etc/passwd") == root / "real" / "passwd"
    assert resolve_in_root(root, "/etc/group") == root / "host-passwd"
    assert read_rootfs_file(root, "/etc/group") is None
    assert resolve_user(root, "app").uid == 1000
    with pytest.raises(UserError):
        resolve_user(root, "evil")


def test_symlink_loop_is_an_error(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc/passwd", root / "etc" / "passwd")
    with pytest.raises(UserError, match="cannot read /etc/passwd"):
        resolve_user(root, "app", container="web")


def test_parsers_skip_malformed():
    assert [e.name for e in parse_passwd("a:x:1:2\nb:x:notanumber:2\n:x:3:3\n")] == ["a"]
    assert parse_group("g:x:5:u1, u2\nbad\n")[0].members == ("u1", "u2")


def test_container_user_from_security(rootfs):
    plan = ContainerPlan(name="web", image="i")
    security = SecurityPlan(run_as_user=1000, run_as_group=50, supplemental_groups=(7, 29), fs_group=2000)
    user = container_user(plan, security, ImageConfig(user="root"), rootfs)
    assert (user.uid, user.gid) == (1000, 50)
    assert user.additional_gids == (50, 29, 44, 7, 2000)


def test_container_user_group_only_keeps_image_user(rootfs):
    user = container_user(ContainerPlan(name="w", image="i"), SecurityPlan(run_as_group=50),
                          ImageConfig(user="app:app"), rootfs)
    assert (user.uid, user.gid) == (1000, 50)


def test_run_as_non_root_refuses_uid_zero(rootfs):
    plan = ContainerPlan(name="web", image="i")
    with pytest.raises(UserError, match='"web".*runAsNonRoot'):
        container_user(plan, SecurityPlan(run_as_non_root=True), ImageConfig(user="root"), rootfs)
    ok = container_user(plan, SecurityPlan(run_as_non_root=True), ImageConfig(user="app"), rootfs)
    assert ok.uid == 1000


def test_effective_security_container_over_pod():
    pod = SecurityPlan(run_as_user=1, run_as_non_root=True, seccomp_profile="Unconfined",
                       supplemental_groups=(5,), fs_group=9, sysctls={"a": "1", "b": "1"})
    container = SecurityPlan(run_as_user=2, sysctls={"b": "2"})
    merged = effective_security(container, pod)
    assert merged.run_as_user == 2 and merged.run_as_non_root is True
    assert merged.seccomp_profile == "Unconfined" and merged.fs_group == 9
    assert merged.sysctls == {"a": "1", "b": "2"}


def test_with_user():
    spec = default_spec()
    with_user(5, 6, [6, 7])(spec)
    assert spec["process"]["user"] == {"uid": 5, "gid": 6, "additionalGids": [6, 7]}
