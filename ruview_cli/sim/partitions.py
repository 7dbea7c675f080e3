"""The emulator's flash uses the same partition tables as `ruview flash`: they live in
ruview_cli.partitions, importable here too so emulator code reads naturally."""

from ruview_cli.partitions import *  # noqa: F401,F403
