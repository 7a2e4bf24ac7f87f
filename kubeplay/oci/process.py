"""The container's process: argv from command/args and the image, env, working dir and user.

Kubernetes semantics: `command` replaces the image ENTRYPOINT and drops its CMD; `args` alone
replace CMD; with neither, the image's ENTRYPOINT + CMD run. `$(VAR)` expansion already happened in
translate; here values are only placed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from kubeplay.errors import ManifestError, UserError
from kubeplay.model.image import ImageConfig
from kubeplay.model.plan import ContainerPlan, SecurityPlan
from kubeplay.oci.spec import DEFAULT_PATH, SpecOption
from kubeplay.oci.users import ResolvedUser, resolve_user


def resolve_argv(plan: ContainerPlan, image: ImageConfig) -> list[str]:
    """The argv Kubernetes would run for this container and image."""
    if plan.command is not None:
        argv = list(plan.command) + list(plan.args or ())
    elif plan.args is not None:
        argv = list(image.entrypoint or ()) + list(plan.args)
    else:
        argv = list(image.entrypoint or ()) + list(image.cmd or ())
    if not argv:
        raise ManifestError(
            f"container \"{plan.name}\": nothing to run: no command or args, "
            f"and image {plan.image} has no ENTRYPOINT or CMD",
            hint=f"set command: [...] on container \"{plan.name}\"",
        )
    return argv


def merge_env(*layers: Iterable[tuple[str, str]]) -> list[str]:
    """KEY=VALUE strings; a later layer's value wins but keeps the key's first position."""
    merged: dict[str, str] = {}
    for layer in layers:
        for key, value in layer:
            merged[key] = value
    return [f"{key}={value}" for key, value in merged.items()]


def _split_image_env(entries: Iterable[str]) -> list[tuple[str, str]]:
    pairs = []
    for entry in entries:
        key, sep, value = entry.partition("=")
        if key:
            pairs.append((key, value if sep else ""))
    return pairs


def container_env(
    plan: ContainerPlan,
    image: ImageConfig,
    hostname: str,
    extra_env: Iterable[tuple[str, str]] = (),
) -> list[str]:
    """Default PATH, HOSTNAME, image env, the plan's env, then values resolved at start.

    HOSTNAME comes early so that an image or manifest that sets it wins, as on Kubernetes nodes.
    `extra_env` carries values known only when the pod runs (status.podIP and friends).
    """
    return merge_env(
        [("PATH", DEFAULT_PATH), ("HOSTNAME", hostname)],
        _split_image_env(image.env),
        [(var.name, var.value) for var in plan.env],
        extra_env,
    )


def working_dir(plan: ContainerPlan, image: ImageConfig) -> str:
    cwd = plan.working_dir or image.working_dir or "/"
    if not cwd.startswith("/"):
        raise ManifestError(
            f"container \"{plan.name}\": workingDir {cwd!r} is not an absolute path",
            hint="use an absolute path such as /app",
        )
    return cwd


def effective_security(container: SecurityPlan, pod: SecurityPlan) -> SecurityPlan:
    """Container securityContext fields over the pod's, for the fields both levels define."""
    return replace(
        container,
        run_as_user=container.run_as_user if container.run_as_user is not None else pod.run_as_user,
        run_as_group=container.run_as_group if container.run_as_group is not None else pod.run_as_group,
        run_as_non_root=(
            container.run_as_non_root if container.run_as_non_root is not None else pod.run_as_non_root
        ),
        seccomp_profile=container.seccomp_profile or pod.seccomp_profile,
        supplemental_groups=container.supplemental_groups or pod.supplemental_groups,
        fs_group=container.fs_group if container.fs_group is not None else pod.fs_group,
        sysctls={**pod.sysctls, **container.sysctls},
    )


def container_user(
    plan: ContainerPlan, security: SecurityPlan, image: ImageConfig, rootfs: Path
) -> ResolvedUser:
    """runAsUser/runAsGroup over the image USER; adds supplementalGroups and fsGroup; checks runAsNonRoot."""
    if security.run_as_user is not None:
        user = str(security.run_as_user)
    else:
        user = image.user.partition(":")[0] if security.run_as_group is not None else image.user
    group = str(security.run_as_group) if security.run_as_group is not None else ""
    resolved = resolve_user(rootfs, user, group, container=plan.name)
    if security.run_as_non_root and resolved.uid == 0:
        source = "runAsUser" if security.run_as_user is not None else f"image user \"{image.user or 'root'}\""
        raise UserError(
            f"container \"{plan.name}\": runAsNonRoot is set but the container would run as uid 0 ({source})",
            hint="set runAsUser to a non-zero uid, or use an image whose USER is not root",
        )
    extra = [resolved.gid, *resolved.additional_gids, *security.supplemental_groups]
    if security.fs_group is not None:
        extra.append(security.fs_group)
    gids = tuple(dict.fromkeys(extra))
    return ResolvedUser(resolved.uid, resolved.gid, gids, resolved.name, resolved.home)


def with_args(argv: Iterable[str]) -> SpecOption:
    args = list(argv)

    def apply(spec: dict) -> None:
        spec.setdefault("process", {})["args"] = list(args)

    return apply


def with_env(env: Iterable[str]) -> SpecOption:
    """Set process.env to these KEY=VALUE strings, replacing keys already there in place."""
    pairs = _split_image_env(env)

    def apply(spec: dict) -> None:
        process = spec.setdefault("process", {})
        process["env"] = merge_env(_split_image_env(process.get("env", [])), pairs)

    return apply


def with_cwd(cwd: str) -> SpecOption:
    def apply(spec: dict) -> None:
        spec.setdefault("process", {})["cwd"] = cwd

    return apply


def with_user(uid: int, gid: int, additional_gids: Iterable[int] = ()) -> SpecOption:
    gids = list(additional_gids)

    def apply(spec: dict) -> None:
        user: dict = {"uid": uid, "gid": gid}
        if gids:
            user["additionalGids"] = list(gids)
        spec.setdefault("process", {})["user"] = user

    return apply
