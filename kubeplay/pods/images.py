"""The images a pod needs, local or pulled as imagePullPolicy says, found before anything is made."""

from __future__ import annotations

from dataclasses import dataclass

from kubeplay.errors import KubeplayError, NotFoundError
from kubeplay.logs import get_logger
from kubeplay.model.image import ImageRecord
from kubeplay.model.plan import PodPlan
from kubeplay.pods.engine import Engine

log = get_logger(__name__)


@dataclass(frozen=True)
class PullOptions:
    """How a play pulls the images it lacks: podman's --tls-verify, --authfile and --creds."""

    tls_verify: bool | None = None  # None: as registries.conf says
    authfile: str | None = None
    credentials: tuple[str, str] | None = None


def ensure_images(engine: Engine, pod: PodPlan, progress=None,
                  pulled: dict[str, float] | None = None) -> dict[str, ImageRecord]:
    """Container name -> image record, for every container of the pod. `pulled` gains the
    references pulled here, with the seconds each pull took (for the pods' Pulled events)."""
    found: dict[str, ImageRecord] = {}
    by_reference: dict[str, ImageRecord] = {}
    for container in pod.all_containers:
        key = f"{container.image}|{container.image_pull_policy}"
        if key not in by_reference:
            by_reference[key] = _ensure(engine, pod.name, container.name, container.image,
                                        container.image_pull_policy, progress, pulled)
        found[container.name] = by_reference[key]
    return found


def pulled_events(pod: PodPlan, pulled: dict[str, float]) -> list[tuple[str, str, str, str]]:
    """The kubelet's Pulled event of each container: how long its image took, or that it was there."""
    events = []
    for container in pod.all_containers:
        seconds = pulled.get(container.image)
        message = (f'Successfully pulled image "{container.image}" in {seconds:.3f}s' if seconds is not None
                   else f'Container image "{container.image}" already present on machine')
        events.append((container.name, "Normal", "Pulled", message))
    return events


def _local(engine: Engine, reference: str) -> ImageRecord | None:
    from kubeplay.images.lookup import resolve_local_image

    try:
        return resolve_local_image(engine.settings, reference)
    except NotFoundError:
        return None


def _ensure(engine: Engine, pod: str, container: str, reference: str, policy: str, progress,
            pulled: dict[str, float] | None) -> ImageRecord:
    local = _local(engine, reference)
    if policy == "Never":
        if local is None:
            raise NotFoundError(
                f'pod "{pod}": container "{container}": image "{reference}" is not present and imagePullPolicy is Never',
                hint=f"`kubeplay pull {reference}` or `kubeplay image load`, or change imagePullPolicy",
            )
        return local
    if local is not None and (policy == "IfNotPresent" or _local_only(reference)):
        return local
    import time

    from kubeplay.images.pull import pull_image

    began = time.monotonic()
    try:
        options = engine.pull_options or PullOptions()
        image = pull_image(engine.settings, reference, progress=progress, tls_verify=options.tls_verify,
                           authfile=options.authfile, credentials=options.credentials)
    except KubeplayError as exc:
        if local is not None:
            log.warning("pulling %s failed (%s); using the local copy", reference, exc.message)
            return local
        raise type(exc)(f'pod "{pod}": container "{container}": image "{reference}" is not in the local store '
                        f"and pulling it failed: {exc.message}", hint=exc.hint) from exc
    if pulled is not None:
        pulled[reference] = time.monotonic() - began
    return image


def _local_only(reference: str) -> bool:
    """`localhost/...` names images made here (import, load, build): there is no registry to ask."""
    return reference.startswith("localhost/")
