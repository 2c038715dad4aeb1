-- What Meta delivered that no hotel could be found for: a message, a status
-- or a change of another subscribed field whose business number, account
-- and guest are registered to no active tenant, and no default tenant
-- applies. It is acknowledged all the same (Meta retries anything else for
-- days, then disables the subscription), so it is kept here for the
-- operator: registering the right identifier and replaying is possible.
-- event_key deduplicates redeliveries.
CREATE TABLE webhook_unrouted (
    id              bigserial PRIMARY KEY,
    event_key       text NOT NULL UNIQUE,
    channel         text NOT NULL,
    field           text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('message', 'status', 'field')),
    phone_number_id text NOT NULL DEFAULT '',
    waba_id         text NOT NULL DEFAULT '',
    guest           text NOT NULL DEFAULT '',
    item_id         text NOT NULL DEFAULT '',
    payload         jsonb NOT NULL,
    received_at     timestamptz NOT NULL
);

CREATE INDEX webhook_unrouted_received_at ON webhook_unrouted (received_at);
