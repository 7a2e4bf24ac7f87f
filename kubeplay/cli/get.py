"""`kubeplay get TYPE [NAME...]`, `get TYPE/NAME...`, `get all`: the store's objects as `kubectl get`
shows them, as a table (`-o wide`), names, YAML, JSON or a JSONPath template; `-l` selects by
labels, `-n`/`-A` by namespace, and `-w` keeps printing what changes until Ctrl-C.
"""

from __future__ import annotations

import time

import click

from kubeplay.cli.options import namespace_options, resolve_namespace
from kubeplay.config import Settings
from kubeplay.errors import NotFoundError, UserError
from kubeplay.cli.completion import complete_targets


class OutputFormat(click.ParamType):
    """-o: table (the default), wide, name, yaml, json, jsonpath=TEMPLATE or custom-columns=HEADER:PATH,..."""

    name = "format"
    PLAIN = ("wide", "name", "yaml", "json")

    def convert(self, value, param, ctx):
        if value in self.PLAIN or value == "table":
            return value
        for prefix in ("jsonpath=", "jsonpath-as-json=", "custom-columns="):
            if value.startswith(prefix):
                return value
        self.fail(f"{value!r} is not one of table, wide, name, yaml, json, jsonpath=TEMPLATE, "
                  "custom-columns=HEADER:PATH,...", param, ctx)


@click.command()
@click.argument("targets", nargs=-1, shell_complete=complete_targets, metavar="TYPE[,TYPE...] [NAME...] | TYPE/NAME...")
@click.option("-o", "--output", "output", type=OutputFormat(), default="table",
              help="table (default), wide, name, yaml, json, jsonpath=TEMPLATE or custom-columns=HEADER:PATH,...")
@click.option("--sort-by", default=None, metavar="PATH",
              help="Sort the listing by a field of the objects, e.g. .metadata.creationTimestamp or {.status.podIP}.")
@click.option("-l", "--selector", default=None,
              help="Only objects whose labels match: k=v, k!=v, 'k in (a,b)', 'k notin (a,b)', k, !k; comma-joined.")
@click.option("--field-selector", default=None, metavar="FIELD=VALUE,...",
              help="Only objects whose fields match: status.phase=Running, metadata.name!=web; comma-joined.")
@namespace_options
@click.option("-w", "--watch", is_flag=True, help="After listing, print objects again as they change, until Ctrl-C.")
@click.option("--output-watch-events", "watch_events", is_flag=True,
              help="With -w: start each line with its event, ADDED, MODIFIED or DELETED.")
@click.option("--watch-timeout", type=click.FloatRange(min=0), default=0, metavar="SECONDS",
              help="With -w: stop watching after this many seconds (0: until Ctrl-C).")
@click.option("--watch-only", is_flag=True, help="Print only the changes, not the first listing (implies -w).")
@click.option("--show-labels", is_flag=True, help="Add a LABELS column to the table.")
@click.option("--no-headers", is_flag=True, help="Leave out the header line of tables.")
@click.pass_obj
def get(settings: Settings, targets: tuple[str, ...], output: str, sort_by: str | None, selector: str | None,
        field_selector: str | None, namespace: str | None, all_namespaces: bool, watch: bool, watch_events: bool,
        watch_timeout: float, watch_only: bool, show_labels: bool, no_headers: bool) -> None:
    """Show pods, deployments, replicasets, services, jobs, configmaps, secrets, pvcs (or `all`) as kubectl does.

    \b
    kubeplay get pods
    kubeplay get pod web -o yaml
    kubeplay get deploy,svc -A
    kubeplay get pods -l 'app=web,tier in (front,back)' -o name
    kubeplay get pod/web -o jsonpath='{.status.podIP}'
    """
    from kubeplay.cli.resources import Store
    from kubeplay.model.selector import parse_selector

    request = parse_targets(targets)
    chosen = parse_selector(selector)
    scope = resolve_namespace(namespace, all_namespaces)
    store = Store(settings)
    requirements = []
    if field_selector:
        from kubeplay.cli.fieldselector import parse_field_selector

        requirements = parse_field_selector(field_selector)
    items = with_fields(select(store, request, chosen, scope), requirements)
    if sort_by:
        from kubeplay.cli.columns import bare_path, sort_key

        path = bare_path(sort_by)
        items = sorted(items, key=lambda item: sort_key(item.build(), path))
    watch = watch or watch_only
    view = View(output, scope is None, show_labels, several_kinds=len(request.kinds) > 1, single=request.single,
                watch_events=watch and watch_events, headers=not no_headers)
    if not watch_only:
        view.show(items, event="ADDED")
    if not items and (output in ("table", "wide") or output.startswith("custom-columns=")) and not watch_only:
        where = "any namespace" if scope is None else f"{scope} namespace"
        click.echo(f"No resources found in {where}.", err=True)
    if watch:
        from kubeplay.cli.watch import watch_changes

        # a named object that went away is a deletion to show, not an error
        watch_changes(lambda: with_fields(select(Store(settings), request, chosen, scope, missing_ok=True),
                                          requirements), view, items, watch_timeout)


class Request:
    """What the arguments ask for: kinds, and names of each (empty: all of that kind)."""

    def __init__(self) -> None:
        self.kinds: list = []
        self.names: dict[str, list[str]] = {}

    @property
    def single(self) -> bool:
        """One object named: -o yaml/json print it alone, not in a List."""
        return sum(len(names) for names in self.names.values()) == 1


def parse_targets(targets: tuple[str, ...]) -> Request:
    from kubeplay.cli.resources import ALL, KINDS, kind_named, known_types

    if not targets:
        raise UserError("get needs a TYPE", hint=known_types())
    request = Request()

    def want(kind, name: str | None = None) -> None:
        if kind not in request.kinds:
            request.kinds.append(kind)
            request.names[kind.name] = []
        if name is not None:
            request.names[kind.name].append(name)

    if all("/" in target for target in targets):
        for target in targets:
            type_name, _, name = target.partition("/")
            if not name:
                raise UserError(f'"{target}" names no object after the "/"', hint="write TYPE/NAME, as pod/web")
            want(kind_named(type_name), name)
        return request
    first, names = targets[0], targets[1:]
    if "/" in first or any("/" in name for name in names):
        raise UserError("TYPE/NAME arguments cannot be mixed with a TYPE and names",
                        hint="write `get pod/a pod/b` or `get pods a b`")
    kinds = [KINDS[name] for name in ALL] if first.lower() == "all" else \
        [kind for part in first.split(",") if part for kind in ([KINDS[n] for n in ALL] if part.lower() == "all"
                                                                 else [kind_named(part)])]
    if names and len(kinds) > 1:
        raise UserError("names can be given with one TYPE only", hint="write TYPE/NAME for each, as pod/web svc/web")
    for kind in kinds:
        want(kind)
        for name in names:
            want(kind, name)
    return request


def select(store, request: Request, chosen, scope: str | None, missing_ok: bool = False) -> list:
    """The items asked for, in the order asked; a name not found is an error naming it (left out
    with `missing_ok`)."""
    found = []
    for kind in request.kinds:
        items = [item for item in store.items(kind)
                 if (scope is None or item.namespace == scope) and chosen.matches(item.labels)]
        names = request.names[kind.name]
        if not names:
            # by namespace and name, as the API server lists them; events in the order they happened
            found += items if kind.name == "events" else sorted(items, key=lambda item: (item.namespace, item.name))
            continue
        by_name: dict[str, list] = {}
        for item in items:
            by_name.setdefault(item.name, []).append(item)
        missing = [name for name in names if name not in by_name]
        if missing and not missing_ok:
            where = "any namespace" if scope is None else f"namespace {scope}"
            quoted = ", ".join(f'"{name}"' for name in missing)
            raise NotFoundError(f"{kind.name} {quoted} not found in {where}",
                                hint=f"`kubeplay get {kind.name} -A` lists them in every namespace")
        found += [item for name in names for item in by_name.get(name, [])]
    return found


def with_fields(items: list, requirements: list) -> list:
    """The items whose objects meet the --field-selector requirements (all of them when there are none)."""
    if not requirements:
        return items
    from kubeplay.cli.fieldselector import fields_match

    return [item for item in items if fields_match(requirements, item.build())]


class View:
    """How items are printed, the same for the first listing and for each change under -w."""

    def __init__(self, output: str, all_namespaces: bool, show_labels: bool, several_kinds: bool, single: bool,
                 watch_events: bool = False, headers: bool = True) -> None:
        self.output = output
        self.headers = headers
        self.watch_events = watch_events
        self.all_namespaces = all_namespaces
        self.show_labels = show_labels
        self.several_kinds = several_kinds
        self.single = single
        self.widths: dict[str, list[int]] = {}  # of each kind's table printed so far: its header is out
        self.objects: dict[tuple, dict] = {}  # the last object printed of each item: a deletion prints it again
        self.columns: list[tuple[str, str]] = []
        if output.startswith("custom-columns="):
            from kubeplay.cli.columns import parse_columns

            self.columns = parse_columns(output.partition("=")[2])

    def show(self, items: list, event: str = "ADDED") -> None:
        """Print `items`; under -w, `event` says what happened to them (ADDED, MODIFIED, DELETED). A
        kind's table has its header the first time it is printed (not at all with --no-headers)."""
        if self.output in ("table", "wide"):
            self._tables(items, event)
        elif self.output == "name":
            for item in items:
                click.echo(item.ref)
        elif self.columns:
            from kubeplay.cli.columns import cell

            rows = [[cell(self._object(item, event), path) for _, path in self.columns] for item in items]
            self._table("custom-columns", [header for header, _ in self.columns], rows)
        else:
            self._objects(items, event)

    def _tables(self, items: list, event: str) -> None:
        now = time.time()
        wide = self.output == "wide"
        for kind in dict.fromkeys(item.kind for item in items):  # in the order asked for, as kubectl
            of_kind = [item for item in items if item.kind is kind]
            if self.widths and kind.name not in self.widths and self.headers:
                click.echo("")  # a blank line before each table after the first
            headers = list(kind.headers) + (list(kind.wide_headers) if wide else [])
            if self.show_labels:
                headers.append("LABELS")
            rows = []
            for item in of_kind:
                row = item.row(wide, now)
                if self.several_kinds and kind.headers[0] == "NAME":
                    row[0] = item.ref
                if self.show_labels:
                    row.append(",".join(f"{k}={v}" for k, v in item.labels.items()) or "<none>")
                rows.append(([event] if self.watch_events else []) + ([item.namespace] if self.all_namespaces else [])
                            + row)
            headers = (["EVENT"] if self.watch_events else []) + (["NAMESPACE"] if self.all_namespaces else []) \
                + headers
            self._table(kind.name, headers, rows)

    def _table(self, key: str, headers: list[str], rows: list[list[object]]) -> None:
        """Columns as wide as their widest cell; under -w, a later line keeps the first listing's widths."""
        cells = [[str(cell) for cell in row] for row in rows]
        header = key not in self.widths and self.headers
        widths = self.widths.get(key) or [0] * len(headers)
        widths = [max([widths[i], len(headers[i])] + [len(row[i]) for row in cells]) for i in range(len(headers))]
        self.widths[key] = widths
        shown = ([headers] if header else []) + cells
        for row in shown:
            click.echo("   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())

    def _objects(self, items: list, event: str) -> None:
        objects = [self._object(item, event) for item in items]
        if self.watch_events:
            objects = [{"type": event, "object": obj} for obj in objects]
        data = objects[0] if (self.single or self.watch_events) and len(objects) == 1 else \
            {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": objects}
        if self.output == "json":
            import json

            click.echo(json.dumps(data, indent=4))
        elif self.output == "yaml":
            import yaml

            click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), nl=False)
        else:
            from kubeplay.cli.jsonpath import evaluate, render

            template = self.output.partition("=")[2]
            if self.output.startswith("jsonpath-as-json="):
                import json

                click.echo(json.dumps(evaluate(template.strip("{}"), data), indent=4))
            else:
                click.echo(render(template, data), nl=False)  # as kubectl: the template says where lines end

    def _object(self, item, event: str) -> dict:
        """The item's object; for a deletion, the one printed last (what was deleted cannot be read
        again), marked with a deletionTimestamp as Kubernetes marks an object on its way out."""
        from kubeplay.cli.watch import DELETED, item_key

        key = item_key(item)
        if event != DELETED:
            self.objects[key] = item.build()
            return self.objects[key]
        from kubeplay.generate.live import rfc3339

        last = self.objects.pop(key, None) or {"metadata": {"name": item.name, "namespace": item.namespace}}
        return {**last, "metadata": {**last.get("metadata", {}), "deletionTimestamp": rfc3339(time.time())}}

