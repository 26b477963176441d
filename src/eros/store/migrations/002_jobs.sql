-- 002: what the daemon and `eros jobs daily` keep: each day's analysis per page, the leases that stop
-- two processes running one job at once, and an idempotency key on alerts.

CREATE TABLE analysis_snapshots (
    -- One row per (day, page), written once by `eros jobs daily`; a re-run keeps the first.
    date        DATE NOT NULL,
    page_name   VARCHAR NOT NULL,
    tier        VARCHAR NOT NULL,
    risk        VARCHAR NOT NULL,
    zone        VARCHAR NOT NULL,
    score       DOUBLE NOT NULL,
    report      JSON NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (date, page_name)
);

CREATE TABLE job_leases (
    -- A job runs only while its runner holds the lease; an expired lease may be taken over.
    job         VARCHAR PRIMARY KEY,
    holder      VARCHAR NOT NULL,
    acquired_at TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);

-- Identifies an alert so that raising it again (a job re-run) adds nothing.
ALTER TABLE alerts ADD COLUMN alert_key VARCHAR;
