"""The rollout journal: what a `ruview ota` run planned and what happened to each node.

One JSON file, rewritten atomically (temp file + rename) after every node, so a crash or a
halted rollout leaves a consistent record and `ruview ota --resume` continues where it stopped.
Each write is a read-merge-write under the inventory's file lock: two processes recording
nodes of the same rollout keep each other's records.
Location: --journal PATH, else $RUVIEW_OTA_JOURNAL, else ruview.ota-journal.json beside the
inventory file (ruview.toml). It holds no secret (never the PSK).

Format (version 1): {"version": 1, "image": {"path", "sha256", "version", "size"},
"options": {...}, "started": epoch, "updated": epoch, "halted": bool,
"nodes": [{"key", "host", "port", "name", "mac", "outcome", "message", ...}]}
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from ruview_cli.errors import RuviewError, UsageError

JOURNAL_VERSION = 1


def journal_path(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("RUVIEW_OTA_JOURNAL")
    if env:
        return Path(env)
    from ruview_cli.inventory import inventory_path

    return inventory_path().parent / "ruview.ota-journal.json"


class Journal:
    def __init__(self, path: Path, data: dict):
        self.path = path
        self.data = data
        self._lock = threading.Lock()
        self._pending: list[tuple[str | None, dict]] = []  # (node key | None, fields) to merge

    @classmethod
    def create(cls, path: Path, image: dict, options: dict, nodes: list[dict]) -> "Journal":
        now = time.time()
        data = {"version": JOURNAL_VERSION, "image": image, "options": options,
                "started": now, "updated": now, "halted": False,
                "nodes": [dict(n, outcome=n.get("outcome", "untouched")) for n in nodes]}
        journal = cls(path, data)
        journal.save()
        return journal

    @classmethod
    def load(cls, path: Path) -> "Journal":
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise UsageError(f"no rollout to resume: {path} does not exist",
                             "start one with `ruview ota IMAGE TARGET...`") from None
        except (OSError, ValueError) as exc:
            raise RuviewError(f"cannot read the rollout journal {path}: {exc}",
                              "delete it and start the rollout again") from None
        if not isinstance(data, dict) or data.get("version") != JOURNAL_VERSION \
                or not isinstance(data.get("nodes"), list):
            raise RuviewError(f"{path} is not a ruview rollout journal (version 1)",
                              "delete it and start the rollout again")
        return cls(path, data)

    @property
    def nodes(self) -> list[dict]:
        return self.data["nodes"]

    def node(self, key: str) -> dict:
        return next(n for n in self.nodes if n["key"] == key)

    def record(self, key: str, **fields) -> None:
        with self._lock:
            self.node(key).update(fields)
            self._pending.append((key, fields))
            self.save_locked()

    def set(self, **fields) -> None:
        with self._lock:
            self.data.update(fields)
            self._pending.append((None, fields))
            self.save_locked()

    def save(self) -> None:
        with self._lock:
            self.save_locked()

    def save_locked(self) -> None:
        from ruview_cli.inventory.files import update_locked

        self.data["updated"] = time.time()
        pending, self._pending = self._pending, []
        try:
            update_locked(self.path, lambda text: self._merge(text, pending), 0o644)
        except OSError as exc:
            raise RuviewError(f"cannot write the rollout journal {self.path}: {exc.strerror}",
                              "pass --journal PATH in a writable directory") from None

    def _merge(self, text: str | None, pending: list[tuple[str | None, dict]]) -> str:
        """The file's text with this object's new records replayed onto it (when it is the
        same rollout), and this object brought up to date with the other writers' records."""
        try:
            disk = json.loads(text) if text else None
        except ValueError:
            disk = None
        if not isinstance(disk, dict) or disk.get("started") != self.data.get("started") \
                or not isinstance(disk.get("nodes"), list):
            return json.dumps(self.data, indent=1)  # a new rollout (or none): ours replaces it
        by_key = {n.get("key"): n for n in disk["nodes"] if isinstance(n, dict)}
        for key, fields in pending:
            if key is None:
                disk.update(fields)
            elif key in by_key:
                by_key[key].update(fields)
        disk["updated"] = self.data["updated"]
        mine = {n["key"]: n for n in self.nodes}
        for n in disk["nodes"]:  # in place: callers hold references to the node dicts
            if isinstance(n, dict) and n.get("key") in mine:
                mine[n["key"]].update(n)
        self.data.update({k: v for k, v in disk.items() if k != "nodes"})
        return json.dumps(self.data, indent=1)


__all__ = ["Journal", "journal_path", "JOURNAL_VERSION"]
