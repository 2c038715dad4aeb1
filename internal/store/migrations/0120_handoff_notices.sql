-- A handoff's notice to the hotel's staff is owed until it is sent: the
-- conversation row that records the handoff also records the notice, in the
-- same statement, so a crash between the two cannot lose it. Instances
-- claim due notices (the claim moves notice_due_at ahead by a lease and
-- counts the attempt), and clear it when sent or given up.
ALTER TABLE conversations
    ADD COLUMN notice_due_at   timestamptz,
    ADD COLUMN notice_attempts integer NOT NULL DEFAULT 0;

CREATE INDEX conversations_notice_due_idx ON conversations (notice_due_at) WHERE notice_due_at IS NOT NULL;
