-- Whether a tenant's pms_hotel_id was given or is only the column's default
-- (0020_pms). A hotel can be registered before its PMS id is known; where
-- the PMS hosts several hotels (QloApps) it must not be served the first
-- hotel's rooms meanwhile, so the agent has to tell the two apart.
ALTER TABLE tenants
    ADD COLUMN pms_hotel_id_set boolean NOT NULL DEFAULT false;

-- Tenants that exist when this runs are serving guests with the id they
-- have, 1 included (a single-hotel QloApps is hotel 1): an upgrade must not
-- cut them off from their booking system, so they count as set. Only
-- tenants registered from now on without an id are flagged.
UPDATE tenants SET pms_hotel_id_set = true;

-- A write that names another id (by hand with psql, or by an instance that
-- predates this column) sets it too. The admin API sets it itself, also
-- when the id it is given is 1.
CREATE FUNCTION agente_tenants_pms_hotel_id_set() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.pms_hotel_id <> 1 OR (TG_OP = 'UPDATE' AND NEW.pms_hotel_id IS DISTINCT FROM OLD.pms_hotel_id) THEN
        NEW.pms_hotel_id_set := true;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER tenants_pms_hotel_id_set
    BEFORE INSERT OR UPDATE ON tenants
    FOR EACH ROW EXECUTE FUNCTION agente_tenants_pms_hotel_id_set();
