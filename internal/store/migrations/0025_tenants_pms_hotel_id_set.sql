-- Whether a tenant's pms_hotel_id was given or is only the column's default
-- (0020_pms). A hotel can be registered before its PMS id is known; where
-- the PMS hosts several hotels (QloApps) it must not be served the first
-- hotel's rooms meanwhile, so the agent has to tell the two apart.
ALTER TABLE tenants
    ADD COLUMN pms_hotel_id_set boolean NOT NULL DEFAULT false;

-- An id other than the default was given. A tenant at 1 may be QloApps'
-- first hotel or may have been left at the default: nobody said which, so
-- it counts as without one until its id is set (PATCH pms_hotel_id: 1).
UPDATE tenants SET pms_hotel_id_set = true WHERE pms_hotel_id <> 1;

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
