-- 003: a caption lock holds a window of time (its schedule's week plus the caption's cooldown), not
-- "until the wall clock passes expires_at". Two pages conflict when their windows overlap, whatever
-- the real clock says, so one caption may carry locks of several pages in windows that do not
-- overlap, and a past week re-planned today still sees the locks of its time.

ALTER TABLE caption_locks RENAME TO caption_locks_until;

CREATE TABLE caption_locks (
    caption_key  VARCHAR NOT NULL,
    page_name    VARCHAR NOT NULL,
    schedule_id  VARCHAR NOT NULL,
    locked_at    TIMESTAMP NOT NULL,
    starts_at    TIMESTAMP NOT NULL,  -- the schedule's week start (UTC)
    expires_at   TIMESTAMP NOT NULL,  -- week end + cooldown (UTC)
    PRIMARY KEY (schedule_id, caption_key)
);

INSERT INTO caption_locks
SELECT l.caption_key, l.page_name, l.schedule_id, l.locked_at,
       coalesce(CAST(s.week_start AS TIMESTAMP), l.locked_at), l.expires_at
FROM caption_locks_until l LEFT JOIN schedules s USING (schedule_id);

DROP TABLE caption_locks_until;
CREATE INDEX caption_locks_by_caption ON caption_locks (caption_key);
