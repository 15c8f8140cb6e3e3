"""Form generation from ``Option`` declarations: every kind maps to a widget and back to the CLI's options."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfk.errors import UsageError
from tfk.plugin import ModelInfo, Option
from tfk.ui.forms import fields_for, output_option, to_options

DECLS = [
    Option("video", Path, "template video", required=True, exists=True, media="video"),
    Option("audio", Path, "driving audio", exists=True, media="audio"),
    Option("output", Path, "output MP4", short="-o", output=True),
    Option("strength", float, "edit strength", default=0.5),
    Option("batch_size", int, "frames per batch", default=20, min=1),
    Option("mode", str, "mode", default="fast", choices=("fast", "exact")),
    Option("alpha", bool, "write alpha", default=False),
    Option("name", str, "a free text"),
    Option("stage", str, "stages", multiple=True),
]
INFO = ModelInfo(summary="test", version="0", options={"infer": DECLS})


def test_each_option_kind_gets_its_widget_and_outputs_are_the_pages_business():
    fields = fields_for(INFO)
    kinds = {f.dest: f.kind for f in fields}
    assert kinds == {
        "video": "file",
        "audio": "file",
        "strength": "number",
        "batch_size": "integer",
        "mode": "choice",
        "alpha": "flag",
        "name": "text",
        "stage": "list",
    }
    assert output_option(INFO).dest == "output"
    by = {f.dest: f for f in fields}
    assert by["video"].media == "video" and by["video"].required
    assert by["mode"].choices == ("fast", "exact") and by["mode"].default == "fast"
    assert by["batch_size"].default == 20 and "frames per batch" in by["batch_size"].help


def test_widget_values_give_the_options_the_cli_would_pass(tmp_path):
    from tfk.runner import parse_options

    video, audio = tmp_path / "v.mp4", tmp_path / "a.wav"
    fields = fields_for(INFO)
    # what the widgets hand back: file paths as strings, numbers as floats, empty text for unset
    values = [str(video), str(audio), 0.25, 8.0, "exact", True, "", "a, b"]
    page = to_options(fields, values)
    cli = parse_options(
        DECLS,
        {"video": video, "audio": audio, "strength": 0.25, "batch_size": 8, "mode": "exact", "alpha": True},
    )
    cli.pop("output")
    cli["stage"] = ("a", "b")
    assert page == cli
    assert isinstance(page["batch_size"], int) and isinstance(page["video"], Path)


def test_empty_fields_take_the_declared_defaults_and_required_ones_are_refused(tmp_path):
    fields = fields_for(INFO)
    page = to_options(fields, [str(tmp_path / "v.mp4"), None, None, None, "fast", False, "", ""])
    assert page["audio"] is None and page["strength"] == 0.5 and page["batch_size"] == 20
    with pytest.raises(UsageError, match="missing option --video"):
        to_options(fields, [None, None, None, None, "fast", False, "", ""])
    with pytest.raises(UsageError, match=r"--batch-size.*not an integer"):
        to_options(fields, [str(tmp_path / "v.mp4"), None, None, 2.5, "fast", False, "", ""])
    with pytest.raises(UsageError, match=r"--mode.*not one of fast, exact"):
        to_options(fields, [str(tmp_path / "v.mp4"), None, None, None, "slow", False, "", ""])
