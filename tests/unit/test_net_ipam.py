"""IP leases and network records in the state database (no root: no bridge is touched)."""

import threading

import pytest

from kubeplay.errors import ConflictError, NotFoundError, UserError
from kubeplay.net.ipam import allocate, release
from kubeplay.net.networks import create_network, get_network, inspect_network, list_networks, resolve_network
from kubeplay.store.db import open_database
from kubeplay.store.network import delete_network, leases_of


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path)
    yield database
    database.close()


def test_allocate_skips_gateway_and_is_stable_per_pod(db):
    create_network(db, "n1", "10.89.240.0/24", bridge="kput0")
    first = allocate(db, "n1", "a")
    assert first == "10.89.240.2"
    assert allocate(db, "n1", "a") == first  # a retried attach gets the same address
    assert allocate(db, "n1", "b") == "10.89.240.3"
    assert release(db, "n1", "a") is True
    assert release(db, "n1", "a") is False
    assert allocate(db, "n1", "c") == "10.89.240.2"  # freed addresses are reused


def test_small_subnet_runs_out_with_a_conflict(db):
    create_network(db, "tiny", "10.89.241.0/30", bridge="kput1")
    assert allocate(db, "tiny", "a") == "10.89.241.2"
    with pytest.raises(ConflictError, match="no free address"):
        allocate(db, "tiny", "b")


def test_twenty_concurrent_allocations_get_distinct_addresses(tmp_path):
    setup = open_database(tmp_path)
    create_network(setup, "busy", "10.89.242.0/24", bridge="kput2")
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(20)

    def play(index: int) -> None:
        # each play is its own process in real life: give each thread its own connection
        own = open_database(tmp_path)
        try:
            start.wait(timeout=10)
            results.append(allocate(own, "busy", f"pod-{index}"))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=play, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(results) == 20 and len(set(results)) == 20
    assert "10.89.242.1" not in results and "10.89.242.0" not in results
    assert len(leases_of(setup, "busy")) == 20
    setup.close()


def test_unknown_network_and_duplicate_names(db):
    with pytest.raises(NotFoundError, match='"ghost"'):
        allocate(db, "ghost", "a")
    with pytest.raises(NotFoundError):
        get_network(db, "ghost")
    create_network(db, "n1", "10.89.243.0/24", bridge="kput3")
    with pytest.raises(ConflictError, match="already exists"):
        create_network(db, "n1", "10.89.244.0/24", bridge="kput4")
    with pytest.raises(ConflictError, match='overlaps kubeplay network "n1"'):
        create_network(db, "n2", "10.89.243.0/25", bridge="kput4")
    with pytest.raises(ConflictError, match="bridge kput3 already belongs"):
        create_network(db, "n3", "10.89.245.0/24", bridge="kput3")
    with pytest.raises(UserError):
        create_network(db, "n4", "10.89.246.7/24")
    with pytest.raises(UserError, match="bridge name"):
        create_network(db, "n5", "10.89.246.0/24", bridge="Not-OK")
    # nothing half-made: only n1 exists
    assert [net.name for net in list_networks(db)] == ["n1"]


def test_default_network_is_created_on_first_use(db):
    record = resolve_network(db, "")
    assert record.name == "kubeplay"
    assert record.subnet.startswith("10.89.") and record.subnet.endswith(".0/24")
    assert record.gateway == record.subnet.replace(".0/24", ".1")
    assert resolve_network(db, "kubeplay") == record
    with pytest.raises(UserError):
        resolve_network(db, "none")


def test_network_in_use_cannot_be_deleted_and_inspect_lists_leases(db):
    create_network(db, "n1", "10.89.247.0/24", bridge="kput7")
    allocate(db, "n1", "web")
    assert inspect_network(db, "n1")["leases"] == [{"pod": "web", "ip": "10.89.247.2"}]
    with pytest.raises(ConflictError, match="in use by pod\\(s\\) web"):
        delete_network(db, "n1")
    release(db, "n1", "web")
    delete_network(db, "n1")
    assert list_networks(db) == []
