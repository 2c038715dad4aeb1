-- A guest's consent to our messages, per hotel, channel and guest
-- (internal/consent): a whole message such as STOP or BAJA opts the guest
-- out, START or ALTA back in. guest_consent is the current answer, read
-- before every reply is sent; guest_consent_changes keeps every change, for
-- audit. guest is normalised: a WhatsApp number's digits, a lowercased email
-- address.
CREATE TABLE guest_consent (
    tenant_id  text NOT NULL,
    channel    text NOT NULL,
    guest      text NOT NULL,
    opted_out  boolean NOT NULL,
    changed_at timestamptz NOT NULL,
    message_id text NOT NULL DEFAULT '', -- the guest's message that changed it
    text       text NOT NULL DEFAULT '', -- what that message said
    PRIMARY KEY (tenant_id, channel, guest)
);

CREATE TABLE guest_consent_changes (
    seq        bigserial PRIMARY KEY,
    tenant_id  text NOT NULL,
    channel    text NOT NULL,
    guest      text NOT NULL,
    opted_out  boolean NOT NULL,
    changed_at timestamptz NOT NULL,
    message_id text NOT NULL DEFAULT '',
    text       text NOT NULL DEFAULT ''
);
CREATE INDEX guest_consent_changes_guest_idx ON guest_consent_changes (tenant_id, channel, guest, seq);
