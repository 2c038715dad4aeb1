-- Each hotel's conversations as its staff see them (internal/conversation):
-- the guest's last words, and whether the agent answers (active), a person
-- must (waiting, since waiting_since) or nobody needs to (closed).
CREATE TABLE conversations (
    tenant_id       text NOT NULL,
    channel         text NOT NULL,
    guest           text NOT NULL,
    name            text NOT NULL DEFAULT '',
    state           text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'waiting', 'closed')),
    waiting_since   timestamptz,
    last_message_at timestamptz NOT NULL,
    last_text       text NOT NULL DEFAULT '',
    booking_ref     text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, channel, guest)
);
CREATE INDEX conversations_activity_idx ON conversations (tenant_id, last_message_at DESC);
CREATE INDEX conversations_waiting_idx ON conversations (tenant_id, waiting_since) WHERE state = 'waiting';

-- One guest's history reads their messages and replies by conversation.
CREATE INDEX inbox_messages_conversation_idx ON inbox_messages (conversation_key, seq);
CREATE INDEX outbox_replies_conversation_idx ON outbox_replies (conversation_key, seq);
