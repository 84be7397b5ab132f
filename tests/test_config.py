"""Every setting is documented, overridable from the environment, and listed for the UI."""

from __future__ import annotations

from dataclasses import fields

from core.config import Settings, describe_settings, settings_from_env


def test_every_setting_has_help_text():
    undocumented = [f.name for f in fields(Settings) if len(str(f.metadata.get("help", "")).strip()) < 10]
    assert not undocumented, f"settings without help text: {undocumented}"


def test_describe_settings_lists_every_field_with_its_env_var():
    rows = {r["setting"]: r for r in describe_settings()}
    assert set(rows) == {f.name for f in fields(Settings)}
    assert all(r["env"] == "RADLENS_" + name.upper() and r["help"] for name, r in rows.items())


def test_environment_overrides_are_typed():
    s = settings_from_env({"RADLENS_MAX_IMAGE_BYTES": "1234", "RADLENS_CONFIDENCE_THRESHOLD": "0.7",
                           "RADLENS_DEVICE": "cpu"})
    assert s.max_image_bytes == 1234 and s.confidence_threshold == 0.7 and s.resolved_device() == "cpu"
