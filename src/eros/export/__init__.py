"""Export: a persisted schedule to where chatters work — CSV (the stable contract), xlsx, ICS and
Google Sheets. Every exporter takes `ScheduleExport`s (read from the store) and writes them; the
orchestrator records each attempt in schedule_export_log."""
