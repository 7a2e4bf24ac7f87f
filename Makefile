# Two commands for a fresh Debian 12 machine, as root: `make demo` and `make test`.
# Both install what is missing first (apt packages, then a virtualenv with the project); re-running is cheap.

VENV        ?= .venv
# Debian's own interpreter: every user can run it, which rootless pods need (conmon's exit command
# and the probe monitor run it inside the user's namespace); one under a private home cannot be run there
PYTHON      ?= /usr/bin/python3
KUBEPLAY    := $(VENV)/bin/kubeplay
APT_PACKAGES := runc crun conmon catatonit busybox-static docker-registry nftables uidmap iproute2 \
                slirp4netns passt fuse-overlayfs apache2-utils python3-venv golang-github-containers-common

.PHONY: deps apt venv lock demo test unit unit-pythons clean-demo bench install-systemd

# kubeplay's modules are compiled ahead: where bytecode cannot be written at run time
# (PYTHONDONTWRITEBYTECODE, a read-only checkout) every command would compile them again.
deps: apt venv
	@$(VENV)/bin/python -m compileall -q kubeplay > /dev/null

apt:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

# The virtualenv is built from nothing whenever its inputs change: every Python package at the exact
# version and hash that requirements.lock records (so a newcomer gets what CI tested), then kubeplay
# itself with no dependency resolution. tools/check_lock.py stops the build when the lock does not
# satisfy pyproject.toml's ranges. `make lock` refreshes the lock.
# editable_mode=compat puts the checkout on sys.path with a plain .pth line: the default editable
# install adds an import hook to every kubeplay command's start-up.
# setuptools (locked, used to install kubeplay) is then removed: nothing needs it at run time, and the
# distutils-precedence.pth it installs imports a module at every interpreter start.
LOCK       := requirements.lock
VENV_STAMP := $(VENV)/.installed-from-lock

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml $(LOCK) bin/kubeplay | apt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	@$(VENV)/bin/python tools/check_lock.py pyproject.toml $(LOCK) || { rm -rf $(VENV); exit 1; }
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . \
	  --config-settings editable_mode=compat
	$(VENV)/bin/pip uninstall -q -y setuptools
	touch $@

$(LOCK):
	@echo "error: $(LOCK) is missing"; echo "hint: \`make lock\` writes it from pyproject.toml's ranges"; exit 1

# Refresh the lock from pyproject.toml's ranges, from PyPI alone (the host's pip configuration is
# ignored, so the hashes are PyPI's). Commit the result on its own, after `make test` passes with it.
PIP_TOOLS := pip-tools==7.7.0
lock: | apt
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q --disable-pip-version-check '$(PIP_TOOLS)'
	env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null .lock-venv/bin/pip-compile -q --upgrade \
	  --generate-hashes --allow-unsafe --all-build-deps --extra test --strip-extras \
	  --index-url https://pypi.org/simple --no-emit-index-url -o $(LOCK) pyproject.toml
	rm -rf .lock-venv

demo: deps
	./demo.sh $(KUBEPLAY)

# The suite also builds a fresh Debian root (tests/install) to prove the two commands on a new machine.
# systemd: systemd-analyze verifies the generated units and systemd-socket-activate hands a socket to
# play (neither needs systemd as PID 1); gcc and libc6-dev build the static helpers a busybox
# container runs for the sd_notify and socket-activation tests.
test: APT_PACKAGES += debootstrap systemd gcc libc6-dev
test: deps unit-pythons
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -q --durations=25  # the slowest tests, to keep the suite within its time

# The unit suite on every other Python the project claims (requires-python) that this machine has:
# pyenv's builds first, else one on PATH that runs. Each gets a venv of its own (.venv-3.12, ...),
# made by the same rule as $(VENV); the Python of $(VENV) is left out, `test` runs it. The venvs are
# made one after the other, then the suites run side by side (one a core), each into its own log.
UNIT_PYTHONS ?= 3.11 3.12 3.13
PYENV_VERSIONS ?= $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions

unit-pythons: venv
	@main=$$($(VENV)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	versions=; \
	for version in $(UNIT_PYTHONS); do \
	  [ "$$version" = "$$main" ] && continue; \
	  python=$$(ls -d $(PYENV_VERSIONS)/$$version.*/bin/python$$version 2>/dev/null | sort -V | tail -n 1); \
	  if [ -z "$$python" ] && python$$version -c pass 2>/dev/null; then python=python$$version; fi; \
	  if [ -z "$$python" ]; then echo "python$$version: not on this machine, its unit suite is skipped"; continue; fi; \
	  $(MAKE) --no-print-directory VENV=.venv-$$version PYTHON=$$python venv || exit 1; \
	  versions="$$versions $$version"; \
	done; \
	pids=; \
	for version in $$versions; do \
	  .venv-$$version/bin/pytest -q -p no:cacheprovider tests/unit > .venv-$$version/unit.log 2>&1 & \
	  pids="$$pids $$!"; \
	done; \
	status=0; \
	set -- $$pids; \
	for version in $$versions; do \
	  echo "unit suite on $$(.venv-$$version/bin/python -V):"; \
	  if wait $$1; then tail -n 1 .venv-$$version/unit.log; else cat .venv-$$version/unit.log; status=1; fi; \
	  shift; \
	done; \
	exit $$status

unit: venv
	$(VENV)/bin/pytest -q tests/unit

# kubeplay against podman on this machine, in one run (~10 min); rewrites bench/RESULTS.md.
# podman gets its own state directories and a bench-only containers.conf (see bench/engines.py).
bench: deps
	@dpkg-query -W -f='$${Status}' podman 2>/dev/null | grep -q "ok installed" || { \
	  echo "installing: podman"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman; }
	$(VENV)/bin/python -m bench

# The template unit kubeplay-kube@.service, running this checkout's kubeplay; the instance is a YAML
# file's path: systemctl start kubeplay-kube@$$(systemd-escape --path /srv/app.yaml).service
SYSTEMD_UNIT_DIR ?= /etc/systemd/system
install-systemd: deps
	$(KUBEPLAY) generate systemd --template -f $(SYSTEMD_UNIT_DIR)/kubeplay-kube@.service
	@if [ -d /run/systemd/system ]; then systemctl daemon-reload; \
	else echo "systemd is not PID 1 here: the unit is installed but cannot be started"; fi
