-- Admin API tokens revoked before their expiry, by token id (jti). Every
-- instance reloads this table about twice a second; a row is useless once
-- its token has expired and is pruned then.
CREATE TABLE admin_token_revocations (
    jti        text PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    revoked_by text NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_token_revocations_expires_idx ON admin_token_revocations (expires_at);
