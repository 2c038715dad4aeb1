-- Claims walk an ordered structure instead of every pending row
-- (internal/inbox's package doc, "Claims"): one row per conversation that
-- has open work, in the order the claims take them. turn is the place in
-- line: a conversation that gets work joins at the back of its hotel's
-- line, but never behind the front of the whole queue, so hotels take
-- turns; due_at is when its head may next be tried ('infinity': nothing to
-- do, or, with held, the outbox head waits for its channel's credentials);
-- tail_seq is the newest item queued, which tells a completion whether
-- more is waiting without reading past its snapshot.
CREATE TABLE inbox_ready (
    conversation_key text PRIMARY KEY,
    tenant_id        text NOT NULL,
    turn             bigint NOT NULL,
    due_at           timestamptz NOT NULL,
    tail_seq         bigint NOT NULL,
    held             boolean NOT NULL DEFAULT false
);
CREATE INDEX inbox_ready_turn_idx ON inbox_ready (turn) WHERE due_at < 'infinity';
CREATE INDEX inbox_ready_tenant_idx ON inbox_ready (tenant_id, turn) WHERE due_at < 'infinity';

CREATE TABLE outbox_ready (LIKE inbox_ready INCLUDING ALL);

-- The work open when this migration runs.
INSERT INTO inbox_ready (conversation_key, tenant_id, turn, due_at, tail_seq)
SELECT conversation_key, tenant_id, row_number() OVER (PARTITION BY tenant_id ORDER BY head), due, tail
FROM (
    SELECT conversation_key, min(tenant_id) AS tenant_id, min(seq) AS head, max(seq) AS tail, min(next_attempt_at) AS due
    FROM inbox_messages WHERE state = 'pending' GROUP BY conversation_key
) c;

INSERT INTO outbox_ready (conversation_key, tenant_id, turn, due_at, tail_seq, held)
SELECT h.conversation_key, h.tenant_id, row_number() OVER (PARTITION BY h.tenant_id ORDER BY h.seq),
    CASE WHEN h.state = 'held' THEN 'infinity' ELSE h.next_attempt_at END,
    (SELECT max(seq) FROM outbox_replies t WHERE t.conversation_key = h.conversation_key AND t.state IN ('pending', 'held')),
    h.state = 'held'
FROM (
    SELECT DISTINCT ON (conversation_key) conversation_key, tenant_id, seq, state, next_attempt_at
    FROM outbox_replies WHERE state IN ('pending', 'held') ORDER BY conversation_key, seq
) h;
