-- A hotel's own mailbox (admin API PUT /admin/tenants/{id}/mailbox): read
-- over IMAP by a worker of internal/mailbox, and the server its replies
-- leave from. The password is never stored in clear: password_sealed is
-- AES-256-GCM under a key derived from SECRET_KEY, the 12-byte nonce
-- first, the tenant id as additional data (a sealed password copied to
-- another hotel's row does not open).
CREATE TABLE tenant_mailboxes (
    tenant_id       text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    imap_addr       text NOT NULL,
    smtp_addr       text NOT NULL,
    username        text NOT NULL,
    address         text NOT NULL,
    authserv_id     text NOT NULL DEFAULT '',
    password_sealed bytea NOT NULL,
    updated_by      text NOT NULL DEFAULT '',
    updated_at      timestamptz NOT NULL DEFAULT now()
);
