-- Tenancy: per-hotel settings the agent needs, identifier uniqueness on the
-- normalised value, and change notification for every instance's cache.

-- (tenants.pms_hotel_id, which the tenancy store also reads, comes from 0020_pms.)
ALTER TABLE tenants
    ADD COLUMN timezone text NOT NULL DEFAULT 'Europe/Madrid',
    ADD COLUMN language text NOT NULL DEFAULT 'es';

-- The key lookups compare: phone digits without an international "00"
-- prefix ('+34 600 111 222' and '34600111222' are one guest), lowercase
-- email, trimmed WhatsApp ids. Must agree with identifierKey in
-- internal/tenancy/identifier.go.
CREATE FUNCTION agente_identifier_key(identifier_type text, identifier_value text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT AS $$
    SELECT CASE identifier_type
        WHEN 'phone' THEN regexp_replace(regexp_replace(identifier_value, '[^0-9]', '', 'g'), '^00', '')
        WHEN 'email' THEN lower(btrim(identifier_value))
        ELSE btrim(identifier_value)
    END
$$;

-- One owner per normalised identifier, so a concurrent duplicate add is a
-- unique violation (409) rather than two tenants claiming one guest.
CREATE UNIQUE INDEX tenant_user_identifiers_key_idx
    ON tenant_user_identifiers (identifier_type, agente_identifier_key(identifier_type, identifier_value));

-- Any change to the directory, by the admin API or by hand (psql, the seed's
-- init-staging-db.sql), tells every instance to reload its cache. NOTIFY is
-- delivered at commit, so listeners never see uncommitted data.
CREATE FUNCTION agente_tenants_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('agente_tenants', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION agente_tenants_notify();

CREATE TRIGGER tenant_user_identifiers_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenant_user_identifiers
    FOR EACH STATEMENT EXECUTE FUNCTION agente_tenants_notify();
