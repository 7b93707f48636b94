"""The loaded presets of a running server, replaced atomically on reload.

``reload()`` validates the whole directory first and swaps the mapping only if every file is
valid, so a typo in a preset never takes the server down or drops in-flight streams (they keep
the preset object they resolved).
"""

from __future__ import annotations

import logging
from pathlib import Path

from backend.errors import ConfigError
from backend.presets import Preset, load_presets

logger = logging.getLogger(__name__)


class PresetCatalog:
    def __init__(self, directory: Path, known_tools: tuple[str, ...] = ()) -> None:
        self.directory = directory
        self.known_tools = known_tools
        self.presets: dict[str, Preset] = load_presets(directory, known_tools)
        _load_providers(self.presets)
        # Why the last reload failed (the previous presets stay in use), for the readiness check.
        self.last_error: str | None = None
        self._fingerprint = self._scan()

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        return tuple(
            (path.name, path.stat().st_mtime_ns, path.stat().st_size) for path in sorted(self.directory.glob("*.toml"))
        )

    def reload(self) -> bool:
        """Reload from disk. Returns True if the presets changed; keeps the old ones on error."""
        try:
            presets = load_presets(self.directory, self.known_tools)
        except ConfigError as error:
            logger.error("preset reload failed, keeping the previous presets: %s", error.public_message)
            self.last_error = error.public_message
            return False
        _load_providers(presets)
        self.presets = presets
        self.last_error = None
        self._fingerprint = self._scan()
        logger.info("presets reloaded: %s", ", ".join(sorted(presets)))
        return True

    def reload_if_changed(self) -> bool:
        if not self.changed_on_disk():
            return False
        return self.reload()

    def changed_on_disk(self) -> bool:
        """Whether a preset file was added, removed or modified since the last load (stat calls only:
        the poll runs this in a thread, since a stat on a busy disk took milliseconds each)."""
        return self._scan() != self._fingerprint


def _load_providers(presets: dict[str, Preset]) -> None:
    """Import the SDK of every provider the presets name, and only those (docs/benchmarks.md:
    each SDK costs 50-70 MB). Done here, when presets are loaded, so the seconds it takes are not
    spent in the middle of a provider's first answer, with every other stream waiting."""
    for spec in {preset.spec.name: preset.spec for preset in presets.values()}.values():
        spec.load()
