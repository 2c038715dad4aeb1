-- Every turn saves its guest's session with a later expires_at, and an
-- indexed column changing makes Postgres write a new entry in each of the
-- table's three indexes; with expires_at unindexed the save can stay on its
-- page with no index entry (a heap-only update). The index served only the
-- hourly pruning of expired sessions (agent.PruneSessions), which now reads
-- the table once an hour: one row per guest, against three index entries
-- per message handled.
DROP INDEX sessions_expiry_idx;
