"""Files several ruview processes write at once (issue 11 item 20): the secrets file, the
inventory and the OTA journal. Real processes load the file, all wait at a barrier, then each
writes its own change; every change must be in the file afterwards, and the secrets file 0600."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

WRITERS = 6


def _mac(i: int) -> str:
    return f"34:85:18:00:00:{i:02x}"


def _secrets_writer(path: str, i: int, barrier) -> None:
    from ruview_cli.inventory import Secrets

    store = Secrets.load(Path(path))  # what a provisioning run read before flashing
    barrier.wait()
    store.set_ota_key(_mac(i), f"key-{i:02d}-" + "k" * 56)
    store.save()


def _inventory_writer(path: str, i: int, barrier) -> None:
    from ruview_cli.inventory import Inventory

    inv = Inventory.load(Path(path))
    barrier.wait()
    inv.upsert(_mac(i), ip=f"10.0.0.{i + 10}", version=f"0.7.{i}")
    inv.save()


def _journal_writer(path: str, i: int, barrier) -> None:
    from ruview_cli.ota.journal import Journal

    journal = Journal.load(Path(path))
    barrier.wait()
    journal.record(f"node-{i}", outcome="updated", message=f"writer {i}")


def _run(target, path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WRITERS)
    procs = [ctx.Process(target=target, args=(str(path), i, barrier)) for i in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]


def test_concurrent_provisioning_runs_keep_every_ota_key(tmp_path):
    from ruview_cli.inventory import Secrets, set_ota_key

    path = tmp_path / "ruview.secrets.toml"
    set_ota_key(None, "fleet-key-" + "f" * 54, path)
    _run(_secrets_writer, path)
    store = Secrets.load(path)
    for i in range(WRITERS):
        assert store.ota_key_for(_mac(i)) == f"key-{i:02d}-" + "k" * 56, f"writer {i}'s key lost"
    assert store.ota_key_for("34:85:18:99:99:99") == "fleet-key-" + "f" * 54
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_concurrent_inventory_writers_lose_nothing(tmp_path):
    from ruview_cli.inventory import Inventory

    path = tmp_path / "ruview.toml"
    path.write_text('# keep me\n[nodes."34:85:18:aa:aa:aa"]\nname = "attic"\n')
    _run(_inventory_writer, path)
    inv = Inventory.load(path)
    for i in range(WRITERS):
        entry = inv.get(_mac(i))
        assert entry is not None and entry.version == f"0.7.{i}", f"writer {i}'s node lost"
    assert inv.get("34:85:18:aa:aa:aa").name == "attic" and "# keep me" in path.read_text()


def test_concurrent_journal_writers_lose_no_record(tmp_path):
    from ruview_cli.ota.journal import Journal

    path = tmp_path / "ruview.ota-journal.json"
    Journal.create(path, {"path": "fw.bin", "sha256": "0" * 64, "version": "0.7.1", "size": 1},
                   {}, [{"key": f"node-{i}", "host": "127.0.0.1", "port": 8032}
                        for i in range(WRITERS)])
    _run(_journal_writer, path)
    nodes = {n["key"]: n for n in json.loads(path.read_text())["nodes"]}
    for i in range(WRITERS):
        assert nodes[f"node-{i}"]["outcome"] == "updated", f"writer {i}'s record lost"
        assert nodes[f"node-{i}"]["message"] == f"writer {i}"


def test_secret_file_errors_never_quote_the_secret(tmp_path):
    from ruview_cli.errors import UsageError
    from ruview_cli.inventory import Secrets

    path = tmp_path / "ruview.secrets.toml"
    path.write_text('[ota]\ndefault = "s3cr3t-value\n')
    with pytest.raises(UsageError) as exc:
        Secrets.load(path)
    assert "s3cr3t" not in exc.value.message and "s3cr3t" not in (exc.value.fix or "")
    assert "line" in exc.value.message
