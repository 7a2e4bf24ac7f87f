"""The probe monitor: one small process per pod that has probes or a postStart hook, as conmon is
one per container. `play` starts it (kubeplay.controllers.launch); it leaves when its pod stops,
ends or goes, and any kubeplay command that finds it dead starts it again.

    python -c 'import sys; from kubeplay.controllers.monitor import main; sys.exit(main())' \
        --root R --runroot RR [--runtime X] [--detach] POD_ID...

It reads its spec (what to probe, how often) from the pod's run directory, and watches each
container's instance through the runtime's pid file, as conmon's own files tell it. It lives as
long as its pod, so it stays small: it imports only modules built into the interpreter, and each
probe, hook, kill and store write runs in a child it forks, which imports what that needs
(kubeplay.controllers.tasks), reports one line back on a pipe, and ends. A probe that hangs is its
child's problem: the child is killed at its deadline. SIGTERM ends the monitor at once (its
children are short-lived and finish their task); kubeplay.pods.termination sends it when the pod
stops.

With --detach it leaves its caller as conmon does: it forks, starts a new session, sends its
output to monitor.log in the pod's run directory, and tells its parent it runs once its pid file
is written; the parent then exits, so the caller's command can return. One such start serves all
the pods a command starts: their monitors are forked one after another from the same process, so
they share the interpreter's memory (what none of them writes to) instead of each holding its own.
"""

from __future__ import annotations

import fcntl
import gc
import marshal
import os
import select
import sys
import time

from kubeplay.controllers.probing import HOOKING, ContainerProbes, Event, Kill, Ready, RunPostStart

TICK = 1.0  # seconds between looks at the pod when no probe falls due sooner
PHASE_CHECK_IDLE = 2.0  # seconds between reads of the pod's phase while none of its containers runs
PHASE_CHECK_BUSY = 30.0  # and while they run (a stop ends the monitor directly; this is the fallback)
CHILD_SLACK = 5.0  # seconds a child may take beyond its task's own timeout (its start-up, the store)
KILL_SLACK = 15.0  # beyond a kill's grace period: the SIGKILL and the wait for the container to go
SIGKILL = 9  # the signal module would bring enum with it, and the monitor needs only this number
USAGE = "usage: kubeplay.controllers.monitor.main --root DIR --runroot DIR [--runtime R] [--detach] POD_ID..."

SPEC_FILE = "monitor.spec"
PID_FILE = "monitor.pid"  # kubeplay.pods.termination reads it
LOG_FILE = "monitor.log"


class Job:
    """A child at work: what it does, and the pipe it answers on."""

    __slots__ = ("pid", "fd", "what", "container", "probe", "deadline", "output")

    def __init__(self, pid: int, fd: int, what: str, container, probe, deadline: float) -> None:
        self.pid, self.fd, self.what = pid, fd, what
        self.container, self.probe, self.deadline = container, probe, deadline
        self.output = b""


class Watched:
    """A container the monitor watches: its spec, its probes and the instance running now."""

    __slots__ = ("spec", "probes", "pid")

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.probes = ContainerProbes(spec["name"], spec["probes"], spec["post_start"] is not None)
        self.pid = 0  # the instance's init pid; 0 when none runs


class Monitor:
    def __init__(self, spec: dict, run_dir: str, lock_fd: int) -> None:
        self.spec = spec
        self.run_dir = run_dir
        self.lock_fd = lock_fd
        self.containers = [Watched(c) for c in spec["containers"]]
        self.jobs: list[Job] = []
        self.pending: list[tuple] = []  # store writes waiting for the writer child
        self.gone = False
        self.last_phase_check = time.monotonic()
        self.boot_time = _boot_time()
        self.ticks = os.sysconf("SC_CLK_TCK")

    # --- the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        while not self.gone and os.path.isdir(self.run_dir):
            now = time.time()
            running = self._look_at_containers(now)
            self._start_due_probes(now)
            self._start_writer()
            self._check_phase(running)
            self._wait(self._timeout(time.time()))
            self._collect()
        self._end_children()

    def _timeout(self, now: float) -> float:
        due = [d for d in (w.probes.next_due() for w in self.containers) if d is not None]
        due += [job.deadline for job in self.jobs]
        return max(0.0, min([TICK, *(moment - now for moment in due)]))

    def _wait(self, timeout: float) -> None:
        readable, _, _ = select.select([job.fd for job in self.jobs], [], [], timeout)
        for job in self.jobs:
            if job.fd in readable:
                chunk = os.read(job.fd, 65536)
                job.output += chunk
                if not chunk:
                    job.deadline = 0.0  # answered (EOF): collected below

    def _collect(self) -> None:
        now = time.time()
        for job in [job for job in self.jobs if job.deadline <= now]:
            self.jobs.remove(job)
            answered = job.deadline == 0.0
            if not answered:
                _kill(job.pid)
            os.close(job.fd)
            os.waitpid(job.pid, 0)
            text = job.output.decode(errors="replace") if answered else ""
            ok, _, message = text.partition("\t")
            self._finished(job, ok == "1", message if answered else "timed out")

    # --- containers ---------------------------------------------------------------------------

    def _look_at_containers(self, now: float) -> bool:
        """Notice instances that started or ended; True if any container runs."""
        any_running = False
        for watched in self.containers:
            pid, started_at = self._instance(watched.spec["id"])
            any_running = any_running or bool(pid)
            if pid == watched.pid:
                continue
            watched.pid = pid
            if pid:
                done = _read(self._post_start_marker(watched)) == str(pid)
                self._act(watched, watched.probes.instance_started(started_at, post_start_done=done))
            else:
                self._act(watched, watched.probes.instance_ended())
        return any_running

    def _instance(self, container_id: str) -> tuple[int, float]:
        """(pid, start time) of the container's running init, or (0, 0.0): the pid the runtime
        wrote, alive, not a zombie, and a child of the container's conmon (its subreaper)."""
        bundle = os.path.join(self.spec["runroot"], "containers", container_id)
        pid, conmon = _read(os.path.join(bundle, "pidfile")), _read(os.path.join(bundle, "conmon.pid"))
        if not pid.isdigit() or not conmon.isdigit():
            return 0, 0.0
        stat = _read(f"/proc/{pid}/stat")
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) < 20 or fields[0] == "Z" or fields[1] != conmon:
            return 0, 0.0
        return int(pid), self.boot_time + int(fields[19]) / self.ticks

    def _post_start_marker(self, watched: Watched) -> str:
        """Holds the pid of the instance whose postStart hook returned, so that a monitor started
        again does not run it twice."""
        return os.path.join(self.run_dir, f"poststart-{watched.spec['id']}")

    def _start_due_probes(self, now: float) -> None:
        for watched in self.containers:
            for probe in watched.probes.due(now):
                probe.begin(now)
                deadline = now + probe.timeout + CHILD_SLACK
                self._fork("probe", watched, probe, deadline, _probe_task, self.spec, watched.spec, probe.kind)

    def _finished(self, job: Job, ok: bool, message: str) -> None:
        watched = job.container
        if job.what == "probe":
            if watched.pid:
                self._act(watched, watched.probes.probe_finished(job.probe, ok, message))
            else:
                job.probe.busy = False
        elif job.what == "post_start":
            if ok and watched.pid:
                _write(self._post_start_marker(watched), str(watched.pid))
            if watched.probes.state == HOOKING:
                self._act(watched, watched.probes.post_start_finished(ok, message, self.spec["grace"]))
        elif job.what == "phase":
            self.gone = ok and message not in ("Running", "Pending")

    def _act(self, watched: Watched, actions: list) -> None:
        now = time.time()
        for action in actions:
            if isinstance(action, Ready):
                self.pending.append(("ready", watched.spec["id"], action.ready, now))
            elif isinstance(action, Event):
                self.pending.append(("event", watched.spec["name"], action.type, action.reason, action.message, now))
            elif isinstance(action, Kill):
                grace = self.spec["grace"] if action.grace is None else action.grace
                self._fork("kill", watched, None, time.time() + grace + KILL_SLACK + CHILD_SLACK,
                           _kill_task, self.spec, watched.spec, grace)
            elif isinstance(action, RunPostStart):
                self._fork("post_start", watched, None, time.time() + self.spec["hook_timeout"] + CHILD_SLACK,
                           _post_start_task, self.spec, watched.spec)

    def _start_writer(self) -> None:
        if self.pending and not any(job.what == "write" for job in self.jobs):
            changes, self.pending = self.pending, []
            self._fork("write", None, None, time.time() + 60, _write_task, self.spec, changes)

    def _check_phase(self, any_running: bool) -> None:
        interval = PHASE_CHECK_BUSY if any_running else PHASE_CHECK_IDLE
        if time.monotonic() - self.last_phase_check < interval or any(j.what == "phase" for j in self.jobs):
            return
        self.last_phase_check = time.monotonic()
        self._fork("phase", None, None, time.time() + 60, _phase_task, self.spec)

    # --- children -----------------------------------------------------------------------------

    def _fork(self, what: str, container, probe, deadline: float, task, *args) -> None:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            os.close(self.lock_fd)  # a child outliving a killed monitor must not keep its lock
            _child(write_end, task, args)
        os.close(write_end)
        self.jobs.append(Job(pid, read_end, what, container, probe, deadline))

    def _end_children(self) -> None:
        for job in self.jobs:
            _kill(job.pid)
            os.close(job.fd)
            os.waitpid(job.pid, 0)
        self.jobs = []


def _child(fd: int, task, args: tuple) -> None:
    """In the forked child: run the task, write its one-line answer, and end without running the
    monitor's own clean-up."""
    code = 0
    try:
        os.write(fd, task(*args).encode())
    except BaseException as exc:  # the monitor must hear of it, whatever it was
        try:
            os.write(fd, f"0\t{type(exc).__name__}: {exc}".encode())
        except OSError:
            pass
        code = 1
    finally:
        os._exit(code)


def _answer(ok: bool, message: str) -> str:
    return f"{1 if ok else 0}\t{message}"


def _probe_task(spec: dict, container: dict, kind: str) -> str:
    from kubeplay.controllers.tasks import run_probe

    return _answer(*run_probe(spec, container, kind))


def _post_start_task(spec: dict, container: dict) -> str:
    from kubeplay.controllers.tasks import run_post_start

    return _answer(*run_post_start(spec, container))


def _kill_task(spec: dict, container: dict, grace: float) -> str:
    from kubeplay.controllers.tasks import kill_container

    kill_container(spec, container, grace)
    return _answer(True, "")


def _write_task(spec: dict, changes: list) -> str:
    from kubeplay.controllers.tasks import write

    write(spec, changes)
    return _answer(True, "")


def _phase_task(spec: dict) -> str:
    from kubeplay.controllers.tasks import pod_phase

    return _answer(True, pod_phase(spec))


# --- small file and process helpers (no pathlib: the monitor stays small) ---------------------

def _read(path: str) -> str:
    try:
        with open(path) as file:
            return file.read().strip()
    except (OSError, ValueError):
        return ""


def _write(path: str, text: str) -> None:
    temporary = f"{path}.{os.getpid()}"
    with open(temporary, "w") as file:
        file.write(text)
    os.replace(temporary, path)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, SIGKILL)
    except ProcessLookupError:
        pass


def _boot_time() -> float:
    for line in _read("/proc/stat").splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


# --- the process ----------------------------------------------------------------------------

def parse_argv(argv: list[str]) -> tuple[dict[str, str], bool, list[str]]:
    """(options, detach, pod ids) of the fixed argv the launcher gives; ValueError if not that.
    Several pods only with --detach: the monitors then leave their caller."""
    options: dict[str, str] = {}
    rest = list(argv)
    detach = False
    while rest and rest[0] in ("--root", "--runroot", "--runtime", "--detach"):
        if rest[0] == "--detach":
            detach, rest = True, rest[1:]
            continue
        if len(rest) < 2:
            raise ValueError(f"{rest[0]} needs a value")
        options[rest[0][2:]] = rest[1]
        rest = rest[2:]
    if not rest or (len(rest) > 1 and not detach) or "root" not in options or "runroot" not in options:
        raise ValueError(f"unexpected arguments {argv!r}")
    return options, detach, rest


def _become_daemon(run_dir: str) -> None:
    """A new session, stdin from /dev/null, output to the pod's monitor log, cwd /: as conmon."""
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(os.path.join(run_dir, LOG_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    os.chdir("/")


def _claim(run_dir: str) -> int | None:
    """An exclusive lock on the pod's monitor lock file, held for the monitor's life: a second
    monitor of the same pod gets None and leaves."""
    fd = os.open(os.path.join(run_dir, "monitor.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _tell(fd: int | None, word: bytes) -> None:
    if fd is not None:
        os.write(fd, word)
        os.close(fd)


def _read_spec(run_dir: str, pod_id: str) -> dict | None:
    try:
        with open(os.path.join(run_dir, SPEC_FILE), "rb") as file:
            return marshal.load(file)
    except (OSError, EOFError, ValueError, TypeError) as exc:
        print(f"error: no monitor spec for pod {pod_id}: {exc}", file=sys.stderr)
        return None


def watch(spec: dict, run_dir: str, word: int | None) -> int:
    """Be the pod's monitor until the pod goes, unless another one is already; `word` (a pipe, or
    None) hears "ok" once it is settled."""
    lock = _claim(run_dir)
    if lock is None:
        _tell(word, b"ok")  # another monitor watches this pod already
        return 0
    pidfile = os.path.join(run_dir, PID_FILE)
    _write(pidfile, str(os.getpid()))
    monitor = Monitor(spec, run_dir, lock)
    _tell(word, b"ok")
    try:
        monitor.run()
    finally:
        if _read(pidfile) == str(os.getpid()):
            try:
                os.unlink(pidfile)
            except OSError:
                pass
    return 0


def _start_detached(spec: dict, run_dir: str) -> bool:
    """Fork the pod's monitor off as a daemon; True once it said it runs (or found one running)."""
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.close(read_end)
        _become_daemon(run_dir)
        sys.exit(watch(spec, run_dir, write_end))  # the child is the pod's monitor; it never returns here
    os.close(write_end)
    answer = os.read(read_end, 16)
    os.close(read_end)
    return answer == b"ok"


def main(argv: list[str] | None = None) -> int:
    try:
        options, detach, pod_ids = parse_argv(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:
        print(f"error: {exc}\n{USAGE}", file=sys.stderr)
        return 2
    if not detach:
        run_dir = os.path.join(options["runroot"], "pods", pod_ids[0])
        spec = _read_spec(run_dir, pod_ids[0])
        return 1 if spec is None else watch(spec, run_dir, None)
    # The pods' monitors are forked from this one process and keep sharing what it loaded, as long
    # as neither writes to it: frozen, the collector of each leaves those objects alone.
    gc.freeze()
    code = 0
    for pod_id in pod_ids:
        run_dir = os.path.join(options["runroot"], "pods", pod_id)
        spec = _read_spec(run_dir, pod_id)
        if spec is None:
            code = 1
        elif not _start_detached(spec, run_dir):
            print(f"error: the monitor of pod {spec['pod']} did not start; see {os.path.join(run_dir, LOG_FILE)}",
                  file=sys.stderr)
            code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
