"""`kubeplay logs`."""

from __future__ import annotations

import click

from kubeplay.cli.completion import complete_container, complete_pod_reference
from kubeplay.cli.options import namespace_options, resolve_namespace
from kubeplay.config import Settings


@click.command()
@click.argument("pod", required=False, shell_complete=complete_pod_reference)
@click.argument("container_name", metavar="[CONTAINER]", required=False, shell_complete=complete_container)
@click.option("-c", "--container", default=None, shell_complete=complete_container,
              help="Container name (default: the pod's kubectl.kubernetes.io/default-container, else its first).")
@click.option("--all-containers", is_flag=True, help="The logs of every container of the pod(s).")
@click.option("-l", "--selector", default=None, help="The pods whose labels match, e.g. app=web,tier!=db.")
@click.option("--prefix", is_flag=True, help="Start each line with [pod/NAME/CONTAINER].")
@click.option("-f", "--follow", is_flag=True, help="Keep printing while the container runs (Ctrl-C ends).")
@click.option("--tail", type=int, default=None, help="Only the last N lines.")
@click.option("--since", default=None, help="Only lines newer than a duration: 30s, 5m, 2h, 1h30m.")
@click.option("--since-time", default=None, help="Only lines since an RFC 3339 time (2024-05-01T10:00:00Z).")
@click.option("--timestamps", is_flag=True, help="Prefix each line with its time.")
@click.option("-p", "--previous", is_flag=True, help="The log of the run before the last restart.")
@namespace_options
@click.pass_obj
def logs(settings: Settings, pod: str | None, container_name: str | None, container: str | None,
         all_containers: bool, selector: str | None, prefix: bool, follow: bool, tail: int | None,
         since: str | None, since_time: str | None, timestamps: bool, previous: bool,
         namespace: str | None, all_namespaces: bool) -> None:
    """Print the logs of a container of POD (NAME, pod/NAME, deploy/NAME, job/NAME, svc/NAME), or of
    the pods matching -l. The container is -c NAME, or CONTAINER after POD as kubectl also takes it."""
    from kubeplay.cli.durations import since_epoch
    from kubeplay.controllers.launch import ensure_monitors
    from kubeplay.errors import UserError
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.logs import LogOptions, log_streams, show_streams
    from kubeplay.pods.targets import pods_matching, resolve_pod

    if (pod is None) == (selector is None):
        raise UserError("name a pod or give -l SELECTOR (one of them)",
                        hint="kubeplay logs web-0, kubeplay logs deploy/web, kubeplay logs -l app=web")
    if container_name is not None:
        if container is not None and container != container_name:
            raise UserError(f'two containers asked for: "{container_name}" and -c "{container}"',
                            hint=f"give one: kubeplay logs {pod} -c {container_name}")
        container = container_name
    scope = resolve_namespace(namespace, all_namespaces)
    if scope is None and selector is None:
        raise UserError("-A goes with -l SELECTOR: a pod named alone is looked up in one namespace",
                        hint="name its namespace with -n NS")
    engine = Engine(settings)
    pods = pods_matching(engine, selector, scope) if selector is not None else [resolve_pod(engine, pod or "", scope or "")]
    if selector is not None and not pods:
        click.echo(f"No pods match {selector!r}.", err=True)
        return
    ensure_monitors(engine, [p.name for p in pods])  # a probe monitor found dead is started again
    options = LogOptions(follow=follow, tail=tail, timestamps=timestamps, previous=previous,
                         since=since_epoch(since, since_time),
                         prefix=prefix or (selector is not None and len(pods) > 1))
    streams = log_streams(engine, pods, container, all_containers, notice=lambda text: click.echo(text, err=True))
    try:
        show_streams(engine, streams, options)
    except KeyboardInterrupt as interrupt:
        import signal

        if not follow or getattr(interrupt, "signum", signal.SIGINT) != signal.SIGINT:
            raise
        # Ctrl-C is how a user ends -f: not a failure
