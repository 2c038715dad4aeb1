-- outbox_replies_open_idx (migration 0041: pending and held replies, by
-- conversation) serves every query the pending-only index served: the
-- claim, the line's upkeep and erasure read open replies, the pending
-- gauge counts. One index fewer to write for each reply queued, and for
-- each claim or outcome that moves its row.
DROP INDEX outbox_replies_pending_idx;
