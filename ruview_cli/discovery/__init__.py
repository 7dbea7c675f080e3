"""Finding nodes: mDNS browse, passive telemetry, status probes and the inventory, merged.

    from ruview_cli.discovery import discover
    rows = discover(timeout=2.0, interface="127.0.0.1", listen_port=5005, probe="10.0.0.0/24")

zeroconf is imported only when a browse starts, so importing this package is cheap.
"""

from ruview_cli.discovery.adopt import SaveReport, save_to_inventory
from ruview_cli.discovery.model import DiscoveredNode, Sighting, merge
from ruview_cli.discovery.session import STALE_AFTER, DiscoverySession, discover
from ruview_cli.discovery.validate import Rejected

__all__ = ["discover", "DiscoveredNode", "DiscoverySession", "Sighting", "merge",
           "save_to_inventory", "SaveReport", "Rejected", "STALE_AFTER"]
