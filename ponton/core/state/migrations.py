"""The SQLite schema of the one-server store: each table holds one collection of storage.COLLECTIONS."""

# Each entry migrates the schema from version i to i+1; append, never edit.
MIGRATIONS = [
    """
    CREATE TABLE apps (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created REAL NOT NULL,
        stopped INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE config (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (app_id, key)
    );
    CREATE TABLE formation (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        process TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (app_id, process)
    );
    CREATE TABLE domains (
        domain TEXT PRIMARY KEY,
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE
    );
    CREATE TABLE releases (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        image TEXT NOT NULL,
        source TEXT NOT NULL,
        config TEXT NOT NULL,
        processes TEXT NOT NULL,
        healthchecks TEXT NOT NULL,
        description TEXT NOT NULL,
        created REAL NOT NULL,
        status TEXT NOT NULL,
        PRIMARY KEY (app_id, version)
    );
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    """
    CREATE TABLE ssh_keys (
        fingerprint TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        key TEXT NOT NULL,
        created REAL NOT NULL
    );
    ALTER TABLE apps ADD COLUMN deploy_branch TEXT;
    ALTER TABLE releases ADD COLUMN build_log TEXT NOT NULL DEFAULT '';
    """,
    """
    CREATE TABLE instance_status (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        instance TEXT NOT NULL,
        status TEXT NOT NULL,
        detail TEXT NOT NULL,
        updated REAL NOT NULL,
        PRIMARY KEY (app_id, instance)
    );
    """,
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        time REAL NOT NULL,
        user TEXT NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX events_by_app ON events (app_id, time);
    """,
    """
    CREATE TABLE deploy_settings (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (app_id, key)
    );
    ALTER TABLE apps ADD COLUMN standby_version INTEGER;
    ALTER TABLE apps ADD COLUMN standby_until REAL;
    ALTER TABLE apps ADD COLUMN canary_version INTEGER;
    ALTER TABLE apps ADD COLUMN canary_until REAL;
    """,
    # Users and roles. The rule "the first key added is admin" holds for older installs too; every user they
    # had could use every app, so they keep access to the existing apps (which have no owner).
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        created REAL NOT NULL
    );
    INSERT INTO users SELECT name, 'user', MIN(created) FROM ssh_keys GROUP BY name;
    UPDATE users SET role = 'admin' WHERE name = (SELECT name FROM ssh_keys ORDER BY created LIMIT 1);
    ALTER TABLE apps ADD COLUMN owner TEXT;
    CREATE TABLE app_access (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        user TEXT NOT NULL,
        PRIMARY KEY (app_id, user)
    );
    INSERT INTO app_access SELECT apps.id, users.name FROM apps, users WHERE users.role = 'user';
    CREATE TABLE quotas (
        user TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (user, key)
    );
    CREATE TABLE resources (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        process TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (app_id, process, key)
    );
    """,
    # HTTPS and protocols: proxy knobs (proxy:set), Let's Encrypt per app, extra ports (ports:add). A host port
    # and protocol belong to one app; tcp and udp may share a number. Certificates themselves are files.
    """
    CREATE TABLE proxy_settings (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (app_id, key)
    );
    CREATE TABLE letsencrypt (
        app_id INTEGER PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
        status TEXT NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        failures INTEGER NOT NULL DEFAULT 0,
        retry_after REAL NOT NULL DEFAULT 0,
        updated REAL NOT NULL
    );
    CREATE TABLE ports (
        host_port INTEGER NOT NULL,
        protocol TEXT NOT NULL,
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        scheme TEXT NOT NULL,
        container_port INTEGER NOT NULL,
        PRIMARY KEY (host_port, protocol)
    );
    """,
    # Events numbered per app (the key (app_id, id)), so that a store keyed by prefix finds an app's events
    # without reading every app's; the numbers they had stay theirs.
    """
    CREATE TABLE events_by_app_id (
        id INTEGER NOT NULL,
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        time REAL NOT NULL,
        user TEXT NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (app_id, id)
    );
    INSERT INTO events_by_app_id SELECT id, app_id, time, user, kind, message FROM events;
    DROP TABLE events;
    ALTER TABLE events_by_app_id RENAME TO events;
    """,
    # Backing services (plugins/services): a service of a kind (postgres, redis) has a name of its own within
    # the kind, an owner like an app, the apps it is linked to (each through one variable), a backup schedule
    # (cron, counted from backup_from) with a retention count, and events of its own, numbered per service.
    """
    CREATE TABLE services (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        owner TEXT,
        password TEXT NOT NULL,
        created REAL NOT NULL,
        backup_schedule TEXT,
        backup_from REAL,
        backup_keep INTEGER NOT NULL,
        backup_error TEXT NOT NULL DEFAULT '',
        UNIQUE (kind, name)
    );
    CREATE TABLE service_links (
        service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        variable TEXT NOT NULL,
        PRIMARY KEY (service_id, app_id)
    );
    CREATE TABLE service_events (
        service_id INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
        id INTEGER NOT NULL,
        time REAL NOT NULL,
        user TEXT NOT NULL,
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        PRIMARY KEY (service_id, id)
    );
    """,
    # Autoscaling (ps:autoscale): a policy per app and process type, and the last decision taken on it.
    """
    CREATE TABLE autoscale (
        app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
        process TEXT NOT NULL,
        minimum INTEGER NOT NULL,
        maximum INTEGER NOT NULL,
        rps REAL,
        cpu REAL,
        latency_p90 REAL,
        cooldown REAL NOT NULL,
        last_change REAL,
        desired INTEGER,
        reason TEXT NOT NULL DEFAULT '',
        decided REAL,
        PRIMARY KEY (app_id, process)
    );
    """,
    # The web face: API tokens (tokens:create), one-time login links (dashboard:login) and browser sessions, each
    # kept as the SHA-256 of its secret, which is shown once and stored nowhere. user NULL: the server itself
    # (local root), which acts as an admin.
    """
    CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        user TEXT,
        name TEXT NOT NULL,
        created REAL NOT NULL,
        expires REAL NOT NULL
    );
    """,
    # An autoscaling policy's own seconds between decisions (app.json's polling_interval_seconds); NULL: the
    # server's autoscale_interval.
    """
    ALTER TABLE autoscale ADD COLUMN interval REAL;
    """,
]
