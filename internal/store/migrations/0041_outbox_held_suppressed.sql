-- Two more states of an outbox reply (internal/inbox's package doc):
--   held        its channel refused our credentials (an expired or revoked
--               WhatsApp access token); it waits, not failed and with no
--               attempt counted, keeping its guest's later replies behind
--               it, until the sender finds the token works again;
--   suppressed  deliberately not sent (the guest opted out); final, and no
--               failure.
ALTER TABLE outbox_replies DROP CONSTRAINT outbox_replies_state_check;
ALTER TABLE outbox_replies ADD CONSTRAINT outbox_replies_state_check
    CHECK (state IN ('pending', 'held', 'sent', 'failed', 'suppressed'));

-- A claim finds each guest's head among the pending and held replies: a
-- guest whose head is held waits.
CREATE INDEX outbox_replies_open_idx ON outbox_replies (conversation_key, seq) WHERE state IN ('pending', 'held');
