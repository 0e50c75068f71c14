"""Schema migrations: append-only. Never edit a released step; add a new one.

Step ``n`` brings the database from ``user_version`` n-1 to n.
"""

MIGRATIONS: tuple[str, ...] = (
    # 1: the PSA model and the sync state
    """
    CREATE TABLE privilege_groups (
        name        TEXT PRIMARY KEY COLLATE NOCASE,
        continuum   INTEGER NOT NULL DEFAULT 0,
        builtin     INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO privilege_groups(name, continuum, builtin) VALUES
        ('Full', 1, 1), ('Partial', 0, 1), ('Limited', 0, 1), ('Sys Admin', 1, 1);
    CREATE TABLE employees (
        rec_id      TEXT PRIMARY KEY,
        login       TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name        TEXT NOT NULL DEFAULT '',
        group_name  TEXT NOT NULL REFERENCES privilege_groups(name)
    );
    CREATE TABLE accounts (
        rec_id       TEXT PRIMARY KEY,
        seq          INTEGER NOT NULL UNIQUE,
        name         TEXT NOT NULL,
        manager      TEXT,
        notes        TEXT NOT NULL DEFAULT '',
        auto_created INTEGER NOT NULL DEFAULT 0,
        merged_into  TEXT,
        created_at   TEXT NOT NULL
    );
    CREATE INDEX accounts_name ON accounts(name COLLATE NOCASE);
    CREATE TABLE assets (
        rec_id          TEXT PRIMARY KEY,
        account_rec_id  TEXT NOT NULL REFERENCES accounts(rec_id),
        name            TEXT NOT NULL,
        serial          TEXT NOT NULL DEFAULT '',
        manufacturer    TEXT NOT NULL DEFAULT '',
        notes           TEXT NOT NULL DEFAULT '',
        created_at      TEXT NOT NULL
    );
    CREATE INDEX assets_account ON assets(account_rec_id);
    CREATE TABLE tickets (
        rec_id          TEXT PRIMARY KEY,
        ticket_no       INTEGER NOT NULL UNIQUE,
        account_rec_id  TEXT NOT NULL REFERENCES accounts(rec_id),
        asset_rec_id    TEXT REFERENCES assets(rec_id),
        description     TEXT NOT NULL,
        status_code     INTEGER NOT NULL DEFAULT 100,
        manager         TEXT,
        in_inbox        INTEGER NOT NULL DEFAULT 0,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    );
    CREATE INDEX tickets_account ON tickets(account_rec_id);
    CREATE INDEX tickets_inbox ON tickets(in_inbox);
    CREATE TABLE history (
        rec_id          TEXT PRIMARY KEY,
        ticket_rec_id   TEXT NOT NULL REFERENCES tickets(rec_id),
        at              TEXT NOT NULL,
        text            TEXT NOT NULL,
        author          TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX history_ticket ON history(ticket_rec_id, at);
    CREATE TABLE site_links (
        site_code       TEXT PRIMARY KEY,
        account_rec_id  TEXT NOT NULL REFERENCES accounts(rec_id),
        linked_at       TEXT NOT NULL,
        linked_by       TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX site_links_account ON site_links(account_rec_id);
    CREATE TABLE device_links (
        device_id       TEXT PRIMARY KEY,
        asset_rec_id    TEXT NOT NULL UNIQUE REFERENCES assets(rec_id),
        linked_at       TEXT NOT NULL,
        linked_by       TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE ticket_links (
        continuum_ticket_id TEXT PRIMARY KEY,
        ticket_rec_id       TEXT NOT NULL UNIQUE REFERENCES tickets(rec_id),
        linked_at           TEXT NOT NULL,
        acked               INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sync_state (
        key     TEXT PRIMARY KEY,
        value   TEXT
    );
    CREATE TABLE processed_changes (
        change_id     TEXT PRIMARY KEY,
        processed_at  TEXT NOT NULL
    );
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        idem_key        TEXT NOT NULL UNIQUE,
        ticket_rec_id   TEXT NOT NULL,
        action          TEXT NOT NULL,
        payload         TEXT NOT NULL,
        request_id      TEXT,
        requested_by    TEXT NOT NULL DEFAULT '',
        state           TEXT NOT NULL DEFAULT 'pending',
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error      TEXT,
        result          TEXT,
        created_at      TEXT NOT NULL,
        finished_at     TEXT
    );
    CREATE INDEX outbox_pending ON outbox(state, next_attempt_at);
    CREATE INDEX outbox_ticket ON outbox(ticket_rec_id, id);
    CREATE TABLE requests (
        request_id    TEXT PRIMARY KEY,
        content_hash  TEXT NOT NULL,
        filename      TEXT NOT NULL,
        action        TEXT NOT NULL,
        user          TEXT NOT NULL DEFAULT '',
        status        TEXT NOT NULL,
        error_code    TEXT,
        error_message TEXT,
        continuum_ticket_id TEXT,
        received_at   TEXT NOT NULL,
        finished_at   TEXT
    );
    CREATE TABLE audit (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      TEXT NOT NULL,
        who     TEXT NOT NULL DEFAULT '',
        action  TEXT NOT NULL,
        detail  TEXT NOT NULL DEFAULT ''
    );
    """,
    # 2: the links not yet acknowledged are read after every feed page; without this index that
    # read scans every ticket link ever made.
    """
    CREATE INDEX ticket_links_unacked ON ticket_links(continuum_ticket_id) WHERE acked = 0;
    """,
    # 3: what a request made (AccountRecID, AssetRecID) is part of its record, not of the sync
    # state, where it was kept under request_extra:<id> before.
    """
    ALTER TABLE requests ADD COLUMN extra TEXT;
    UPDATE requests SET extra = (SELECT s.value FROM sync_state s
                                 WHERE s.key = 'request_extra:' || requests.request_id);
    DELETE FROM sync_state WHERE key GLOB 'request_extra:*';
    """,
    # 4: a Continuum ticket's last seen fields (for "what changed" notes) belong to its link: read
    # with it, written with it, removed with it. They were kept in the sync state under
    # continuum_ticket:<id> before, as a JSON object; the link keeps them as one text, the values
    # in the order of agent.sync.inbound.rules.SNAPSHOT_FIELDS joined by U+001F (which XML, where they come
    # from, cannot hold).
    """
    ALTER TABLE ticket_links ADD COLUMN seen TEXT;
    UPDATE ticket_links SET seen = (
        SELECT coalesce(json_extract(s.value, '$.title'), '') || char(31)
               || coalesce(json_extract(s.value, '$.description'), '') || char(31)
               || coalesce(json_extract(s.value, '$.priority'), '') || char(31)
               || coalesce(json_extract(s.value, '$.status'), '') || char(31)
               || coalesce(json_extract(s.value, '$.assigned_to'), '') || char(31)
               || coalesce(json_extract(s.value, '$.site_code'), '') || char(31)
               || coalesce(json_extract(s.value, '$.device_id'), '')
        FROM sync_state s
        WHERE s.key = 'continuum_ticket:' || ticket_links.continuum_ticket_id AND json_valid(s.value));
    DELETE FROM sync_state WHERE key GLOB 'continuum_ticket:*';
    """,
    # 5: the outbound sender looks for tickets completed lately (R15) every half minute; this
    # index holds completed tickets only, so creating tickets (New) costs nothing more.
    """
    CREATE INDEX tickets_completed ON tickets(updated_at) WHERE status_code = 1000;
    """,
    # 6: the link tables are the state store's, which must work beside any PSA backend: they no
    # longer refer to the embedded PSA's tables (the links manager checks the records through the
    # PSA port instead).
    """
    CREATE TABLE site_links_6 (
        site_code       TEXT PRIMARY KEY,
        account_rec_id  TEXT NOT NULL,
        linked_at       TEXT NOT NULL,
        linked_by       TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO site_links_6 SELECT site_code, account_rec_id, linked_at, linked_by FROM site_links;
    DROP TABLE site_links;
    ALTER TABLE site_links_6 RENAME TO site_links;
    CREATE INDEX site_links_account ON site_links(account_rec_id);
    CREATE TABLE device_links_6 (
        device_id       TEXT PRIMARY KEY,
        asset_rec_id    TEXT NOT NULL UNIQUE,
        linked_at       TEXT NOT NULL,
        linked_by       TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO device_links_6 SELECT device_id, asset_rec_id, linked_at, linked_by FROM device_links;
    DROP TABLE device_links;
    ALTER TABLE device_links_6 RENAME TO device_links;
    CREATE TABLE ticket_links_6 (
        continuum_ticket_id TEXT PRIMARY KEY,
        ticket_rec_id       TEXT NOT NULL UNIQUE,
        linked_at           TEXT NOT NULL,
        acked               INTEGER NOT NULL DEFAULT 0,
        seen                TEXT
    );
    INSERT INTO ticket_links_6 SELECT continuum_ticket_id, ticket_rec_id, linked_at, acked, seen FROM ticket_links;
    DROP TABLE ticket_links;
    ALTER TABLE ticket_links_6 RENAME TO ticket_links;
    CREATE INDEX ticket_links_unacked ON ticket_links(continuum_ticket_id) WHERE acked = 0;
    """,
    # 7: the web console's sign-in: an argon2 hash per employee login, and the signed-in sessions
    # (by the SHA-256 of their id, so a copy of the file holds no usable cookie).
    """
    CREATE TABLE web_passwords (
        login         TEXT PRIMARY KEY COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        set_at        TEXT NOT NULL
    );
    CREATE TABLE web_sessions (
        id_hash     TEXT PRIMARY KEY,
        login       TEXT NOT NULL COLLATE NOCASE,
        csrf_token  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL
    );
    CREATE INDEX web_sessions_login ON web_sessions(login);
    """,
    # 8: the sender asks for the oldest pending row of each ticket before every send. Through
    # outbox_ticket that walked past every finished row of the ticket, once per pending row;
    # this index holds pending rows only, so each ticket's head is one seek however long the
    # outbox's history and backlog grow.
    """
    CREATE INDEX outbox_queue ON outbox(ticket_rec_id, id) WHERE state = 'pending';
    """,
    # 9: alert RMMs (N-sight): one PSA ticket per (RMM, device, check) while it is open; the
    # failure it last saw, how often it failed again, and the ticket's fingerprint after the
    # agent's own last write (a different one later means a person touched the ticket).
    """
    CREATE TABLE alert_tickets (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        rmm             TEXT NOT NULL DEFAULT '',
        device_id       TEXT NOT NULL,
        check_name      TEXT NOT NULL,
        alert_id        TEXT NOT NULL,
        site_code       TEXT NOT NULL,
        ticket_rec_id   TEXT NOT NULL,
        failed_since    TEXT NOT NULL,
        repeats         INTEGER NOT NULL DEFAULT 0,
        state           TEXT NOT NULL DEFAULT 'failing',
        agent_mark      TEXT NOT NULL DEFAULT '',
        opened_at       TEXT NOT NULL,
        updated_at      TEXT NOT NULL
    );
    CREATE UNIQUE INDEX alert_tickets_open ON alert_tickets(rmm, device_id, check_name) WHERE state != 'closed';
    CREATE INDEX alert_tickets_ticket ON alert_tickets(ticket_rec_id);
    """,
)
