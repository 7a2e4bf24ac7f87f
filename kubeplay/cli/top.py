"""`kubeplay top pod`: CPU and memory of pods and their containers, as `kubectl top pod`."""

from __future__ import annotations

import click

from kubeplay.cli.completion import names_of
from kubeplay.cli.options import namespace_options, resolve_namespace
from kubeplay.config import Settings


@click.group()
def top() -> None:
    """Show CPU and memory use, read from the containers' cgroups."""


@top.command("pod")
@click.argument("name", required=False, shell_complete=names_of("pod"))
@click.option("--containers", "per_container", is_flag=True, help="One line per container rather than per pod.")
@click.option("-l", "--selector", default=None, help="Only pods whose labels match, e.g. app=web.")
@click.option("--sample", "seconds", type=click.FloatRange(0.1, 60), default=1.0, show_default=True,
              help="Seconds over which CPU use is measured.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="A table, or JSON with millicores and bytes.")
@namespace_options
@click.pass_obj
def top_pod(settings: Settings, name: str | None, per_container: bool, selector: str | None, seconds: float,
            fmt: str, namespace: str | None, all_namespaces: bool) -> None:
    """CPU (millicores over --sample seconds) and memory (working set) of the running pods, or of NAME."""
    from kubeplay.model.record import PodPhase
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.status import reconcile_pod
    from kubeplay.pods.targets import pods_matching
    from kubeplay.pods.usage import sample

    from kubeplay.names import split_pod_key

    scope = resolve_namespace(namespace, all_namespaces)
    engine = Engine(settings)
    if name is not None:
        if scope is None:
            from kubeplay.errors import UserError

            raise UserError("-A measures every pod: a pod named alone is looked up in one namespace",
                            hint="name its namespace with -n NS")
        chosen = [engine.store.named_pod(scope, name)]
    elif selector is not None:
        chosen = pods_matching(engine, selector, scope)
    else:
        chosen = sorted((pod for pod in engine.store.list_pods() if scope is None or pod.namespace == scope),
                        key=lambda pod: (pod.namespace, pod.shown_name))
    running = [p for p in (reconcile_pod(engine.store, settings, pod) for pod in chosen) if p.phase is PodPhase.RUNNING]
    if name is not None and not running:
        from kubeplay.errors import ConflictError

        from kubeplay.names import pod_arguments

        raise ConflictError(f'pod "{name}" is not running: it has no figures',
                            hint=f"start it with `kubeplay pod start {pod_arguments(scope or '', name)}`")
    tops = sample(running, seconds)
    if fmt == "json":
        from kubeplay.cli.render import echo_json

        echo_json([{"pod": split_pod_key(t.pod)[1], "namespace": split_pod_key(t.pod)[0], "container": t.container,
                    "cpuMillicores": t.cpu_millis, "memoryBytes": t.memory_bytes} for t in tops])
        return
    if not tops:
        click.echo("No resources found", err=True)
        return
    _table(tops, per_container, namespace_column=scope is None)


def _table(tops, per_container: bool, namespace_column: bool = False) -> None:
    from kubeplay.cli.render import table
    from kubeplay.names import split_pod_key

    def first(key: str) -> list[str]:
        """NAMESPACE (with -A) and the pod's name, from the key `tops` carry."""
        namespace, name = split_pod_key(key)
        return [namespace, name] if namespace_column else [name]

    head = ["NAMESPACE"] if namespace_column else []
    if per_container:
        table(head + ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"],
              [first(t.pod) + [t.container, cores(t.cpu_millis), mebibytes(t.memory_bytes)] for t in tops])
        return
    totals: dict[str, list[int | None]] = {}
    for t in tops:
        cpu, memory = totals.setdefault(t.pod, [0, 0])
        totals[t.pod] = [None if cpu is None or t.cpu_millis is None else cpu + t.cpu_millis,
                         None if memory is None or t.memory_bytes is None else memory + t.memory_bytes]
    table(head + ["NAME", "CPU(cores)", "MEMORY(bytes)"],
          [first(pod) + [cores(cpu), mebibytes(memory)] for pod, (cpu, memory) in totals.items()])


def cores(millis: int | None) -> str:
    return "<unknown>" if millis is None else f"{max(millis, 0)}m"


def mebibytes(count: int | None) -> str:
    return "<unknown>" if count is None else f"{count // (1 << 20)}Mi"


top.add_command(top_pod, "pods")
top.add_command(top_pod, "po")
