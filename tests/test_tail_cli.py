"""`ruview tail` option checking: bad input exits 2 with a message naming the option."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ruview_cli.cli.app import app


@pytest.mark.parametrize(
    "args, message",
    [
        (["--listen", "0"], "--listen"),
        (["--listen", "70000"], "--listen"),
        (["--duration", "0"], "--duration must be more than 0"),
        (["--duration", "-3"], "--duration must be more than 0"),
        (["--speed", "2"], "--speed only applies to --replay"),
        (["--replay", "/nonexistent/x.pcap"], "no such recording"),
        (["--count", "0"], "--count"),
        (["--node", "300"], "--node"),
        (["--record", "a.pcap", "--replay", __file__], "cannot be combined"),
    ],
)
def test_bad_options_exit_2_with_a_message(args, message):
    result = CliRunner().invoke(app, ["tail", *args])
    assert result.exit_code == 2, result.output
    text = result.output + (result.stderr if hasattr(result, "stderr") else "")
    assert message in text
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_replay_of_a_file_that_is_not_a_capture_exits_1(tmp_path):
    bogus = tmp_path / "notes.pcap"
    bogus.write_text("not a capture\n")
    result = CliRunner().invoke(app, ["tail", "--replay", str(bogus), "--json"])
    assert result.exit_code == 1
    text = result.output + (result.stderr if hasattr(result, "stderr") else "")
    assert "is not a pcap or pcapng capture" in text
