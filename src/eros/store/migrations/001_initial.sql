-- 001: the tables of DESIGN.md §4. Instants are TIMESTAMP holding UTC (the store converts at its edge);
-- local calendar days are DATE in the page's time zone.

CREATE TABLE pages (
    page_name   VARCHAR PRIMARY KEY,
    page_type   VARCHAR NOT NULL CHECK (page_type IN ('free', 'paid', 'standard')),
    timezone    VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE fans_daily (
    page_name    VARCHAR NOT NULL,
    date         DATE NOT NULL,
    active_fans  BIGINT NOT NULL CHECK (active_fans >= 0),
    new_fans     BIGINT,
    expired_fans BIGINT,
    PRIMARY KEY (page_name, date)
);

CREATE TABLE messages (
    page_name        VARCHAR NOT NULL,
    sent_at          TIMESTAMP NOT NULL,
    caption_key      VARCHAR NOT NULL,
    message_type     VARCHAR NOT NULL CHECK (message_type IN ('ppv', 'bump', 'followup', 'free')),
    caption_text     VARCHAR NOT NULL,
    price            DOUBLE NOT NULL,
    sent_count       BIGINT NOT NULL,
    viewed_count     BIGINT NOT NULL,
    purchased_count  BIGINT NOT NULL,
    revenue          DOUBLE NOT NULL,
    message_id       VARCHAR,
    content_category VARCHAR,
    price_tier       VARCHAR,
    trigger          VARCHAR,
    imported_at      TIMESTAMP NOT NULL,  -- when the row was last inserted or changed by an import
    -- Natural key (page_name, sent_at, caption_key), kept unique by the import's merge (one writer at
    -- a time holds the file). No PRIMARY KEY: DuckDB keeps such an index wholly in memory, so on the
    -- largest table it would make memory grow with history (measured: 2M rows fail under 256 MB).
);

CREATE TABLE captions (
    page_name        VARCHAR NOT NULL,  -- '' = shared by the agency
    caption_key      VARCHAR NOT NULL,
    caption_text     VARCHAR NOT NULL,
    message_type     VARCHAR NOT NULL CHECK (message_type IN ('ppv', 'bump')),
    content_category VARCHAR,
    price_tier       VARCHAR,
    trigger          VARCHAR,
    active           BOOLEAN NOT NULL,
    imported_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (page_name, caption_key)
);

CREATE TABLE caption_bandit_stats (
    -- Evidence per (page, caption), refreshed by `eros jobs update-stats`. successes and failures
    -- are decayed to reference_at and corrected for overdispersion; sends, views and purchases raw.
    page_name       VARCHAR NOT NULL,
    caption_key     VARCHAR NOT NULL,
    successes       DOUBLE NOT NULL,
    failures        DOUBLE NOT NULL,
    sends           BIGINT NOT NULL,
    views           BIGINT NOT NULL,
    purchases       BIGINT NOT NULL,
    last_sent_at    TIMESTAMP,
    reference_at    TIMESTAMP NOT NULL,
    source_loaded_at TIMESTAMP NOT NULL,  -- newest imported_at of the messages it was made from
    updated_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (page_name, caption_key)
);

CREATE TABLE caption_stats_refresh (
    -- Per page, the newest message load its caption stats were made from (the update-stats mark).
    page_name        VARCHAR PRIMARY KEY,
    source_loaded_at TIMESTAMP NOT NULL,
    refreshed_at     TIMESTAMP NOT NULL
);

CREATE TABLE schedules (
    schedule_id     VARCHAR PRIMARY KEY,
    page_name       VARCHAR NOT NULL,
    week_start      DATE NOT NULL,
    mode            VARCHAR NOT NULL,
    saturation_zone VARCHAR NOT NULL,
    status          VARCHAR NOT NULL CHECK (status IN ('active', 'superseded')),
    validation_ok   BOOLEAN NOT NULL,
    total_messages  INTEGER NOT NULL,
    expected_revenue DOUBLE NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    superseded_at   TIMESTAMP,
    timezone        VARCHAR NOT NULL,
    warnings        JSON,
    report          JSON
);

CREATE TABLE schedule_messages (
    schedule_id      VARCHAR NOT NULL,
    seq              INTEGER NOT NULL,
    send_at          TIMESTAMP NOT NULL,
    message_type     VARCHAR NOT NULL,
    caption_key      VARCHAR,
    caption_text     VARCHAR,
    price            DOUBLE NOT NULL,
    price_tier       VARCHAR,
    content_category VARCHAR,
    trigger          VARCHAR,
    parent           VARCHAR,
    expected_revenue DOUBLE NOT NULL,
    holiday          VARCHAR,
    note             VARCHAR,
    PRIMARY KEY (schedule_id, seq)
);

CREATE TABLE caption_locks (
    -- One live lock per caption: a caption planned on one page is not offered to another until the
    -- lock expires (week end + cooldown) or its schedule is superseded.
    caption_key  VARCHAR PRIMARY KEY,
    page_name    VARCHAR NOT NULL,
    schedule_id  VARCHAR NOT NULL,
    locked_at    TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL
);

CREATE SEQUENCE export_log_id;
CREATE TABLE schedule_export_log (
    export_id    BIGINT PRIMARY KEY DEFAULT nextval('export_log_id'),
    schedule_id  VARCHAR NOT NULL,
    destination  VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,
    row_count    INTEGER,
    duration_ms  DOUBLE,
    error        VARCHAR,
    attempted_at TIMESTAMP NOT NULL
);

CREATE SEQUENCE job_run_id;
CREATE TABLE job_runs (
    run_id          BIGINT PRIMARY KEY DEFAULT nextval('job_run_id'),
    job             VARCHAR NOT NULL,
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    status          VARCHAR NOT NULL,
    pages_processed INTEGER NOT NULL DEFAULT 0,
    pages_failed    INTEGER NOT NULL DEFAULT 0,
    error           VARCHAR
);

CREATE SEQUENCE alert_id;
CREATE TABLE alerts (
    alert_id    BIGINT PRIMARY KEY DEFAULT nextval('alert_id'),
    created_at  TIMESTAMP NOT NULL,
    page_name   VARCHAR,
    kind        VARCHAR NOT NULL,
    message     VARCHAR NOT NULL,
    resolved_at TIMESTAMP
);
