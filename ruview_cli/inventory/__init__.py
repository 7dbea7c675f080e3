"""The fleet inventory (ruview.toml) and the secrets file beside it (ruview.secrets.toml).

One module per job: `paths` (where the files are), `values` (MACs, host:port, names),
`files` (lock, atomic write, read-merge-write), `model` (NodeEntry, Target), `fleet` (the
fleet file), `secrets` (the secrets file). Everything is importable from here.
"""

from ruview_cli.inventory.files import atomic_write, file_lock, update_locked, update_toml
from ruview_cli.inventory.fleet import Inventory
from ruview_cli.inventory.model import NodeEntry, Target
from ruview_cli.inventory.paths import ENV_INVENTORY, FILE_NAME, SECRETS_NAME, inventory_path, \
    secrets_path
from ruview_cli.inventory.secrets import Secrets, ota_key_for, set_ota_key
from ruview_cli.inventory.values import DEFAULT_HTTP_PORT, check_name, is_ip, is_mac, \
    looks_like_host, normalize_mac, split_host_port

# the private names other modules imported before the split
_is_mac = is_mac
_is_ip = is_ip
_looks_like_host = looks_like_host

__all__ = ["Inventory", "Secrets", "NodeEntry", "Target", "inventory_path", "secrets_path",
           "normalize_mac", "split_host_port", "check_name", "is_mac", "is_ip",
           "looks_like_host", "ota_key_for", "set_ota_key", "ENV_INVENTORY", "FILE_NAME",
           "SECRETS_NAME", "DEFAULT_HTTP_PORT", "file_lock", "atomic_write", "update_locked",
           "update_toml"]
