-- Durable inbox (guest messages and delivery statuses accepted from webhooks)
-- and outbox (replies waiting to be sent). See internal/inbox's package doc
-- for the protocol these tables implement.

-- One row per accepted guest message; (tenant_id, channel, message_id) is the
-- dedup key (Meta redelivers for days). seq is the acceptance order, which is
-- the processing order within a conversation.
CREATE TABLE inbox_messages (
    seq              bigserial PRIMARY KEY,
    tenant_id        text NOT NULL,
    channel          text NOT NULL,
    message_id       text NOT NULL,
    conversation_key text NOT NULL,
    sent_at          timestamptz,                 -- the channel's timestamp
    payload          jsonb NOT NULL,              -- the normalised chat.Message
    accepted_at      timestamptz NOT NULL,
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    last_attempt_at  timestamptz,
    claimed_by       text,                        -- instance of the latest claim (informative)
    lease_token      bigint,                      -- fencing token of the latest claim
    last_error       text,
    done_at          timestamptz,
    UNIQUE (tenant_id, channel, message_id)
);
CREATE INDEX inbox_messages_pending_idx ON inbox_messages (conversation_key, seq) WHERE state = 'pending';
CREATE INDEX inbox_messages_finished_idx ON inbox_messages (done_at) WHERE state <> 'pending';

-- One row per conversation being processed right now. The primary key is the
-- per-conversation lock: a claim takes it with INSERT ... ON CONFLICT DO
-- UPDATE ... WHERE lease_until <= now, so two instances can never hold the
-- same conversation, whatever their snapshots saw.
CREATE TABLE inbox_leases (
    conversation_key text PRIMARY KEY,
    seq              bigint NOT NULL,
    claimed_by       text NOT NULL,
    lease_until      timestamptz NOT NULL,
    token            bigint NOT NULL
);
CREATE SEQUENCE inbox_lease_token_seq;

-- Delivery receipts (sent, delivered, read, failed) for messages the business
-- sent; message_id matches outbox_replies.provider_id. Recorded, never answered.
CREATE TABLE inbox_statuses (
    tenant_id   text NOT NULL,
    channel     text NOT NULL,
    message_id  text NOT NULL,
    status      text NOT NULL,
    recipient   text NOT NULL DEFAULT '',
    sent_at     timestamptz,
    errors      jsonb,
    accepted_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, channel, message_id, status)
);
CREATE INDEX inbox_statuses_accepted_idx ON inbox_statuses (accepted_at);

-- Replies waiting to be sent, and a record of those sent or given up.
-- conversation_key (tenant|channel|recipient) orders the sends to one guest.
CREATE TABLE outbox_replies (
    seq              bigserial PRIMARY KEY,
    tenant_id        text NOT NULL,
    channel          text NOT NULL,
    recipient        text NOT NULL,
    phone_number_id  text NOT NULL DEFAULT '',
    in_reply_to      text NOT NULL DEFAULT '',
    subject          text NOT NULL DEFAULT '',
    conversation_key text NOT NULL,
    payload          jsonb NOT NULL,              -- the OutboundReply
    accepted_at      timestamptz NOT NULL,
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    last_attempt_at  timestamptz,
    claimed_by       text,
    lease_token      bigint,
    last_error       text,
    provider_id      text,                        -- wamid once sent
    done_at          timestamptz
);
CREATE INDEX outbox_replies_pending_idx ON outbox_replies (conversation_key, seq) WHERE state = 'pending';
CREATE INDEX outbox_replies_finished_idx ON outbox_replies (done_at) WHERE state <> 'pending';
CREATE INDEX outbox_replies_tenant_idx ON outbox_replies (tenant_id, seq);
CREATE INDEX outbox_replies_in_reply_to_idx ON outbox_replies (tenant_id, channel, in_reply_to);
CREATE INDEX outbox_replies_provider_idx ON outbox_replies (provider_id) WHERE provider_id IS NOT NULL;

CREATE TABLE outbox_leases (
    conversation_key text PRIMARY KEY,
    seq              bigint NOT NULL,
    claimed_by       text NOT NULL,
    lease_until      timestamptz NOT NULL,
    token            bigint NOT NULL
);
CREATE SEQUENCE outbox_lease_token_seq;
