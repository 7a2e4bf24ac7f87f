"""`kubeplay top pod`: CPU and memory of pods and their containers, as `kubectl top pod`."""

from __future__ import annotations

import click

from kubeplay.cli.completion import names_of
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
@click.pass_obj
def top_pod(settings: Settings, name: str | None, per_container: bool, selector: str | None, seconds: float,
            fmt: str) -> None:
    """CPU (millicores over --sample seconds) and memory (working set) of the running pods, or of NAME."""
    from kubeplay.model.record import PodPhase
    from kubeplay.pods.engine import Engine
    from kubeplay.pods.status import reconcile_pod
    from kubeplay.pods.targets import pods_matching
    from kubeplay.pods.usage import sample

    engine = Engine(settings)
    if name is not None:
        chosen = [engine.store.get_pod(name)]
    elif selector is not None:
        chosen = pods_matching(engine, selector)
    else:
        chosen = sorted(engine.store.list_pods(), key=lambda pod: pod.name)
    running = [p for p in (reconcile_pod(engine.store, settings, pod) for pod in chosen) if p.phase is PodPhase.RUNNING]
    if name is not None and not running:
        from kubeplay.errors import ConflictError

        raise ConflictError(f'pod "{name}" is not running: it has no figures',
                            hint=f"start it with `kubeplay pod start {name}`")
    tops = sample(running, seconds)
    if fmt == "json":
        from kubeplay.cli.render import echo_json

        echo_json([{"pod": t.pod, "container": t.container, "cpuMillicores": t.cpu_millis,
                    "memoryBytes": t.memory_bytes} for t in tops])
        return
    if not tops:
        click.echo("No resources found", err=True)
        return
    _table(tops, per_container)


def _table(tops, per_container: bool) -> None:
    from kubeplay.cli.render import table

    if per_container:
        table(["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"],
              [(t.pod, t.container, cores(t.cpu_millis), mebibytes(t.memory_bytes)) for t in tops])
        return
    totals: dict[str, list[int | None]] = {}
    for t in tops:
        cpu, memory = totals.setdefault(t.pod, [0, 0])
        totals[t.pod] = [None if cpu is None or t.cpu_millis is None else cpu + t.cpu_millis,
                         None if memory is None or t.memory_bytes is None else memory + t.memory_bytes]
    table(["NAME", "CPU(cores)", "MEMORY(bytes)"],
          [(pod, cores(cpu), mebibytes(memory)) for pod, (cpu, memory) in totals.items()])


def cores(millis: int | None) -> str:
    return "<unknown>" if millis is None else f"{max(millis, 0)}m"


def mebibytes(count: int | None) -> str:
    return "<unknown>" if count is None else f"{count // (1 << 20)}Mi"


top.add_command(top_pod, "pods")
top.add_command(top_pod, "po")
