"""The SQLite store's SQL: its schema migrations and its conversation save (``SqliteStore``)."""

from __future__ import annotations

# Saving a conversation. ``:expected`` None = any version; 0 = must not exist (the SELECT's WHERE lets
# the insert through, and the update's WHERE refuses an existing row); k > 0 = must be at version k.
UPSERT = """INSERT INTO conversations (owner, block_id, messages, version, title, preset, model, message_count,
        input_tokens, output_tokens, created_at, updated_at)
    SELECT :owner, :block_id, :messages, 1, :title, :preset, :model, :message_count, :input_tokens,
        :output_tokens, :now, :now
    WHERE :expected IS NULL OR :expected = 0
    ON CONFLICT(owner, block_id) DO UPDATE SET messages = excluded.messages, version = conversations.version + 1,
        title = excluded.title, preset = excluded.preset, model = excluded.model,
        message_count = excluded.message_count, input_tokens = excluded.input_tokens,
        output_tokens = excluded.output_tokens, updated_at = excluded.updated_at
    WHERE :expected IS NULL
    RETURNING version"""
UPDATE_AT_VERSION = """UPDATE conversations SET messages = :messages, version = version + 1, title = :title,
        preset = :preset, model = :model, message_count = :message_count, input_tokens = :input_tokens,
        output_tokens = :output_tokens, updated_at = :now
    WHERE owner = :owner AND block_id = :block_id AND version = :expected
    RETURNING version"""

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE conversations (
        block_id TEXT PRIMARY KEY,
        messages TEXT NOT NULL,
        version INTEGER NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        preset TEXT,
        model TEXT,
        message_count INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX conversations_updated ON conversations(updated_at DESC);
    CREATE TABLE block_meta (block_id TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at REAL NOT NULL);
    CREATE TABLE settings (id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL, updated_at REAL NOT NULL);
    """,
    # 2: tool approvals the server requested; a client may only answer these (docs/tools.md).
    """
    CREATE TABLE approvals (
        approval_id TEXT PRIMARY KEY,
        block_id TEXT NOT NULL,
        tool_call_id TEXT NOT NULL,
        tool_name TEXT NOT NULL,
        input TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        created_at REAL NOT NULL
    );
    CREATE INDEX approvals_block ON approvals(block_id);
    """,
    # 3: every row has an owner (issue 19); what was stored before belongs to the implicit user.
    """
    CREATE TABLE conversations_owned (
        owner TEXT NOT NULL,
        block_id TEXT NOT NULL,
        messages TEXT NOT NULL,
        version INTEGER NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        preset TEXT,
        model TEXT,
        message_count INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (owner, block_id)
    );
    INSERT INTO conversations_owned (owner, block_id, messages, version, title, preset, model, message_count,
        input_tokens, output_tokens, created_at, updated_at)
        SELECT 'default', block_id, messages, version, title, preset, model, message_count, input_tokens,
            output_tokens, created_at, updated_at FROM conversations;
    DROP TABLE conversations;
    ALTER TABLE conversations_owned RENAME TO conversations;
    CREATE INDEX conversations_updated ON conversations(owner, updated_at DESC);
    CREATE TABLE block_meta_owned (
        owner TEXT NOT NULL, block_id TEXT NOT NULL, data TEXT NOT NULL, updated_at REAL NOT NULL,
        PRIMARY KEY (owner, block_id)
    );
    INSERT INTO block_meta_owned SELECT 'default', block_id, data, updated_at FROM block_meta;
    DROP TABLE block_meta;
    ALTER TABLE block_meta_owned RENAME TO block_meta;
    CREATE TABLE user_settings (owner TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at REAL NOT NULL);
    INSERT INTO user_settings SELECT 'default', data, updated_at FROM settings;
    DROP TABLE settings;
    ALTER TABLE approvals ADD COLUMN owner TEXT NOT NULL DEFAULT 'default';
    """,
)
