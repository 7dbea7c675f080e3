"""The Typer command-line layer: options in, a call into ruview_cli, rendering out."""
