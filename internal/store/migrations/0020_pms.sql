-- PMS adapter: which QloApps hotel (id_hotel) a tenant is in its PMS. QloApps
-- hosts several hotels behind one webservice; a tenant maps to exactly one.
-- Default 1 is QloApps' first hotel, so single-hotel installs need no data.
ALTER TABLE tenants
    ADD COLUMN pms_hotel_id integer NOT NULL DEFAULT 1
        CONSTRAINT tenants_pms_hotel_id_positive CHECK (pms_hotel_id > 0);
