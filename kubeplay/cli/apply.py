"""`kubeplay apply`, `scale`, `rollout` and `deployments`: change what runs by editing its YAML,
as kubectl's commands of these names do.

apply rolls Deployments in the foreground: with no daemon, the command that changed a Deployment is
the one that waits for each new pod to be Ready before the next old pod goes, so apply returns when
the roll is over (or stopped). `--wait` then also waits for the pods of the objects it created (and
the ones it scaled up) to be Ready, as `play --wait` does.
"""

from __future__ import annotations

import sys

import click

from kubeplay.cli.completion import complete_deployment
from kubeplay.cli.render import echo
from kubeplay.config import Settings
from kubeplay.errors import NotFoundError, UserError


def _say(quiet: bool):
    return (lambda message: None) if quiet else echo


def _progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return lambda message: None
    return lambda message: echo(message, err=True)


@click.command()
@click.option("-f", "--filename", "files", multiple=True, required=True,
              help="A manifest file, a directory of them, or - for stdin; may be repeated.")
@click.option("--prune", is_flag=True, help="Remove the objects these files made before and no longer hold.")
@click.option("--strict", is_flag=True, help="Unknown fields and unsupported kinds are errors, not warnings.")
@click.option("--network", default="", help="The kubeplay network for new pods.")
@click.option("--wait", "wait", is_flag=True, help="Also wait for the pods of created objects to be Ready.")
@click.option("--timeout", default="5m", show_default=True, help="How long --wait waits: 90s, 5m, 1h.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.pass_obj
def apply(settings: Settings, files: tuple[str, ...], prune: bool, strict: bool, network: str, wait: bool,
          timeout: str, quiet: bool) -> None:
    """Make what runs what FILES say: only what changed is made again; Deployments roll."""
    from kubeplay.cli.manifests import max_replicas
    from kubeplay.controllers import apply as applying
    from kubeplay.pods.engine import Engine
    from kubeplay.translate.context import TranslateOptions
    from kubeplay.translate.loader import load
    from kubeplay.translate.run import translate

    wait_seconds = None
    if wait:
        from kubeplay.controllers.wait import parse_duration

        wait_seconds = parse_duration(timeout)
    documents = load(list(files), stdin=sys.stdin if "-" in files else None)
    result = translate(documents, TranslateOptions(strict=strict, network=network, max_replicas=max_replicas()))
    for warning in result.warnings:
        echo(f"warning: {warning}", err=True)
    say, progress = _say(quiet), _progress(quiet)
    engine = Engine(settings)
    awaited = applying.apply_manifests(engine, result, documents, files, remove_gone=prune,
                                       say=say, progress=progress)
    if wait_seconds is not None:
        from kubeplay.controllers.wait import wait_for

        wait_for(engine, awaited, "ready", wait_seconds)


def parse_target(text: str) -> tuple[str, str]:
    """`deployment/web`, `deploy/web`, `deployments/web` or `deployment.apps/web` -> ("default", "web")."""
    kind, _, name = text.partition("/")
    if kind.lower() not in ("deployment", "deploy", "deployments", "deployment.apps") or not name:
        raise UserError(f'"{text}" is not a Deployment', hint="name it as deployment/NAME (or deploy/NAME)")
    return "default", name


def find_deployment(engine, namespace: str, name: str):
    from kubeplay.store.deployments import DeploymentStore

    record = DeploymentStore(engine.db).find(namespace, name)
    if record is None:
        raise NotFoundError(f'no deployment named "{name}" in namespace {namespace}',
                            hint="`kubeplay deployments` lists them; `kubeplay apply -f FILE` makes one")
    return record


@click.command()
@click.argument("target", shell_complete=complete_deployment)
@click.option("--replicas", type=click.IntRange(min=0), required=True, help="How many pods the Deployment runs.")
@click.option("-n", "--namespace", default="default", show_default=True, help="The Deployment's namespace.")
@click.pass_obj
def scale(settings: Settings, target: str, replicas: int, namespace: str) -> None:
    """Set a Deployment's replicas: pods are added or removed, the others are not touched."""
    import dataclasses

    from kubeplay.cli.manifests import max_replicas
    from kubeplay.controllers.rollout import converge
    from kubeplay.pods.engine import Engine
    from kubeplay.store.deployments import DeploymentStore

    _, name = parse_target(target)
    if replicas > max_replicas():
        raise UserError(f"--replicas {replicas}: kubeplay makes at most {max_replicas()} pods of one workload",
                        hint="raise it with KUBEPLAY_MAX_REPLICAS")
    engine = Engine(settings)
    record = find_deployment(engine, namespace, name)
    record = DeploymentStore(engine.db).save(dataclasses.replace(record.plan, replicas=replicas))
    converge(engine, record, _progress(False))
    echo(f"deployment.apps/{name} scaled")


@click.group()
def rollout() -> None:
    """Manage a Deployment's rollout: status, history, undo, restart."""


@rollout.command()
@click.argument("target", shell_complete=complete_deployment)
@click.option("-n", "--namespace", default="default", show_default=True, help="The Deployment's namespace.")
@click.option("--watch/--no-watch", "-w", default=True, help="Finish an unfinished roll first (default).")
@click.pass_obj
def status(settings: Settings, target: str, namespace: str, watch: bool) -> None:
    """Show whether the Deployment's pods are those of its template and Ready; an unfinished roll
    (its command was killed) is carried on first."""
    from kubeplay.controllers.rollout import converge, status_lines
    from kubeplay.pods.engine import Engine

    _, name = parse_target(target)
    engine = Engine(settings)
    record = find_deployment(engine, namespace, name)
    if watch and not record.condition:
        converge(engine, record, _progress(False))
        record = find_deployment(engine, namespace, name)
    done, text = status_lines(engine, record)
    echo(text)
    if not done:
        raise SystemExit(1)


@rollout.command()
@click.argument("target", shell_complete=complete_deployment)
@click.option("-n", "--namespace", default="default", show_default=True, help="The Deployment's namespace.")
@click.pass_obj
def history(settings: Settings, target: str, namespace: str) -> None:
    """The revisions kept of the Deployment's template (revisionHistoryLimit of them besides the current)."""
    from kubeplay.cli.render import table
    from kubeplay.pods.engine import Engine
    from kubeplay.store.deployments import DeploymentStore

    _, name = parse_target(target)
    engine = Engine(settings)
    record = find_deployment(engine, namespace, name)
    echo(f"deployment.apps/{name}")
    rows = [(revision.number, revision.template_hash, revision.cause or "<none>")
            for revision in DeploymentStore(engine.db).revisions(namespace, name)]
    table(["REVISION", "TEMPLATE-HASH", "CHANGE-CAUSE"], rows)
    del record


@rollout.command()
@click.argument("target", shell_complete=complete_deployment)
@click.option("--to-revision", type=int, default=0, help="The revision to go back to (default: the previous one).")
@click.option("-n", "--namespace", default="default", show_default=True, help="The Deployment's namespace.")
@click.pass_obj
def undo(settings: Settings, target: str, to_revision: int, namespace: str) -> None:
    """Go back to a previous template: its pods replace the current ones as a roll does."""
    import dataclasses

    from kubeplay.controllers.rollout import converge
    from kubeplay.pods.engine import Engine
    from kubeplay.store.deployments import DeploymentStore

    _, name = parse_target(target)
    engine = Engine(settings)
    record = find_deployment(engine, namespace, name)
    store = DeploymentStore(engine.db)
    revisions = store.revisions(namespace, name)
    if to_revision:
        chosen = [revision for revision in revisions if revision.number == to_revision]
    else:
        chosen = [revision for revision in revisions if revision.number < record.revision][-1:]
    if not chosen:
        raise UserError(f'deployment "{name}" has no revision {to_revision or "before " + str(record.revision)}',
                        hint=f"`kubeplay rollout history deployment/{name}` lists the revisions kept")
    revision = chosen[0]
    plan = dataclasses.replace(record.plan, template=revision.template, template_hash=revision.template_hash)
    converge(engine, store.save(plan, cause="rollout undo"), _progress(False))
    echo(f"deployment.apps/{name} rolled back")


@rollout.command()
@click.argument("target", shell_complete=complete_deployment)
@click.option("-n", "--namespace", default="default", show_default=True, help="The Deployment's namespace.")
@click.pass_obj
def restart(settings: Settings, target: str, namespace: str) -> None:
    """Replace every pod by a roll, with the same template (a restartedAt annotation, as kubectl does)."""
    import dataclasses
    import time

    from kubeplay.controllers.rollout import converge
    from kubeplay.pods.engine import Engine
    from kubeplay.store.deployments import DeploymentStore
    from kubeplay.translate.workloads import template_hash

    _, name = parse_target(target)
    engine = Engine(settings)
    record = find_deployment(engine, namespace, name)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    template = record.plan.template
    new_hash = template_hash({"restartedFrom": record.plan.template_hash, "at": stamp})
    annotations = {**template.annotations, "kubectl.kubernetes.io/restartedAt": stamp}
    labels = {**template.labels, "pod-template-hash": new_hash}
    owner = template.owner and dataclasses.replace(template.owner, template_hash=new_hash)
    template = dataclasses.replace(template, annotations=annotations, labels=labels, owner=owner)
    plan = dataclasses.replace(record.plan, template=template, template_hash=new_hash)
    converge(engine, DeploymentStore(engine.db).save(plan, cause="rollout restart"), _progress(False))
    echo(f"deployment.apps/{name} restarted")


@click.command()
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table", help="A table, or JSON.")
@click.pass_obj
def deployments(settings: Settings, fmt: str) -> None:
    """List the Deployments, with replicas: 0 ones too (READY, UP-TO-DATE, AVAILABLE as kubectl)."""
    from kubeplay.cli.render import age, echo_json, table
    from kubeplay.controllers.rollout import deployment_pods, is_available, pod_hash
    from kubeplay.pods.engine import Engine
    from kubeplay.store.deployments import DeploymentStore

    engine = Engine(settings)
    rows = []
    for record in DeploymentStore(engine.db).list():
        pods = deployment_pods(engine, record.namespace, record.name)
        ready = sum(1 for pod in pods if is_available(pod))
        current = sum(1 for pod in pods if pod_hash(pod) == record.plan.template_hash)
        rows.append({"name": record.name, "namespace": record.namespace, "replicas": record.plan.replicas,
                     "ready": ready, "updated": current, "revision": record.revision,
                     "condition": record.condition, "created": record.created_at})
    if fmt == "json":
        echo_json(rows)
        return
    table(["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
          [(row["name"], f"{row['ready']}/{row['replicas']}", row["updated"], row["ready"], age(row["created"]))
           for row in rows])
