"""The preset-reload task: poll the presets directory, reload on change, and stop MCP servers that
no preset uses any more (issue 11). The users file (issue 19) is polled by the same task, so a
token added, rotated or removed takes effect within one poll, without a restart.

The task must outlive a transient failure: an ``OSError`` (a file vanishing mid-scan, a directory
briefly unreadable) is logged and the next poll tries again, so new presets are never silently
ignored from then on.
"""

from __future__ import annotations

import asyncio
import logging

from backend.catalog import PresetCatalog
from backend.tools.mcp_bridge import McpManager
from backend.users import UserDirectory

logger = logging.getLogger(__name__)


async def stop_unused_mcp_servers(catalog: PresetCatalog, mcp: McpManager) -> None:
    tables = [table for preset in catalog.presets.values() for table in preset.file.mcp_servers]
    await mcp.retain(tables)


async def reload_once(
    catalog: PresetCatalog, mcp: McpManager, *, force: bool = False, users: UserDirectory | None = None
) -> None:
    """One check (or a forced reload, as SIGHUP asks); never raises ``OSError``."""
    if users is not None:
        users.reload_if_changed()  # logs and keeps the previous users on a bad edit; never raises
    try:
        # The directory scan is blocking file-system work: off the loop, where it once held every
        # stream for 263 ms while the disk was busy writing a large conversation (loop_block bench).
        changed = catalog.reload() if force or await asyncio.to_thread(catalog.changed_on_disk) else False
    except OSError as error:
        logger.error("preset reload failed (will retry): %s: %s", type(error).__name__, error)
        return
    if changed:
        await stop_unused_mcp_servers(catalog, mcp)


async def poll_presets(
    catalog: PresetCatalog, mcp: McpManager, interval_seconds: float, users: UserDirectory | None = None
) -> None:
    """Run forever (until cancelled), checking every ``interval_seconds``."""
    while True:
        await asyncio.sleep(interval_seconds)
        await reload_once(catalog, mcp, users=users)
