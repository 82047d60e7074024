//! The Python seed's database brought into our layout: its ISO 8601 times read as milliseconds,
//! its rows filled into our columns, and a trigger for the rows its cron job still writes.

/// SQL for the milliseconds of a seed time column: ISO 8601 text, with an offset, or naive
/// (Python's `isoformat()` of local time, as the seed wrote it: read as the daemon's local time).
pub(super) fn seed_ms(col: &str) -> String {
    format!(
        "CAST(round((CASE WHEN {col} LIKE '%Z' OR substr({col}, -6, 1) IN ('+', '-') \
           THEN julianday({col}) ELSE julianday({col}, 'utc') END - 2440587.5) * 86400000) AS INTEGER)"
    )
}

/// Fills our columns from the seed's: its ISO 8601 times parsed to milliseconds, its health
/// names in our spelling, what it did as the check's details; and installs the trigger that
/// does the same for rows the seed still writes.
pub(super) fn fill_from_seed(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let ms = seed_ms;
    tx.execute_batch(&format!(
        "CREATE TRIGGER IF NOT EXISTS check_history_from_seed AFTER INSERT ON check_history
         WHEN NEW.checked_at_ms = 0 AND NEW.checked_at != ''
         BEGIN
            UPDATE check_history SET
                health = lower(health),
                checked_at_ms = coalesce({}, 0),
                details = coalesce(details, 'checked by the Python watchdog')
            WHERE id = NEW.id;
         END;",
        ms("NEW.checked_at")
    ))?;
    tx.execute_batch(&format!(
        "UPDATE check_history SET
            health = lower(health),
            checked_at_ms = coalesce({}, 0),
            details = coalesce(details, CASE WHEN action_taken IS NOT NULL AND action_taken != ''
                THEN 'checked by the Python watchdog; action taken: ' || action_taken
                ELSE 'checked by the Python watchdog' END)
         WHERE checked_at_ms = 0;
         UPDATE process_state SET
            last_health = lower(last_health),
            last_check = coalesce(last_check, last_check_at),
            last_check_ms = coalesce(last_check_ms, {}),
            updated_at = CASE WHEN updated_at = '' THEN coalesce(last_check_at, '') ELSE updated_at END;",
        ms("checked_at"),
        ms("last_check_at")
    ))
}
