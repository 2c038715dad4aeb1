-- Core schema: hotels (tenants), how guests and business numbers map to them,
-- guest sessions, and the admin audit trail. Column names follow the original
-- system so its scripts/init-staging-db.sql runs unchanged.

CREATE TABLE tenants (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- identifier_type: phone (E.164 as given), email, phone_number_id (the hotel's
-- WhatsApp business number id) or waba_id. Lookups use identifier_value as stored;
-- the tenancy cache normalises phones to digits when it loads them.
CREATE TABLE tenant_user_identifiers (
    id               bigserial PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    identifier_type  text NOT NULL,
    identifier_value text NOT NULL,
    channel          text NOT NULL DEFAULT 'whatsapp',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (identifier_type, identifier_value)
);
CREATE INDEX tenant_user_identifiers_tenant_idx ON tenant_user_identifiers (tenant_id);

CREATE TABLE sessions (
    session_id  text PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id     text NOT NULL,
    channel     text NOT NULL,
    state       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE UNIQUE INDEX sessions_guest_idx ON sessions (tenant_id, channel, user_id);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);

CREATE TABLE admin_audit (
    id          bigserial PRIMARY KEY,
    actor       text NOT NULL,          -- JWT sub
    action      text NOT NULL,          -- e.g. tenant.create
    target      text NOT NULL DEFAULT '',
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admin_audit_created_idx ON admin_audit (created_at);
