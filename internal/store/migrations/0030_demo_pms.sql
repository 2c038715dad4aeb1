-- The demo PMS (PMS_TYPE=demo) with Postgres: its inventory and bookings, so
-- that instances sharing the database sell the same rooms. The properties
-- themselves (names, room types, rates) are internal/pms/demo's code. A
-- tenant's inventory is its own copy of its property: property_id is the
-- tenant's pms_hotel_id, 0 for the default property of a tenant without one.

-- Rooms of a type taken on one night. A booking inserts the rows of its
-- nights, then locks them in night order (SELECT ... FOR UPDATE) while it
-- checks and takes them, so two instances cannot both sell the last room.
CREATE TABLE demo_pms_nights (
    tenant_id    text NOT NULL,
    property_id  integer NOT NULL CHECK (property_id >= 0),
    room_type_id integer NOT NULL,
    night        date NOT NULL,
    rooms_taken  integer NOT NULL DEFAULT 0 CHECK (rooms_taken >= 0),
    PRIMARY KEY (tenant_id, property_id, room_type_id, night)
);

-- Booking ids are DEMO-<n>, n from this sequence.
CREATE SEQUENCE demo_pms_booking_seq;

-- status is pms.BookingStatus (1 new, 3 cancelled). reference is the
-- caller's idempotency key: one booking per reference and property.
CREATE TABLE demo_pms_bookings (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL,
    property_id      integer NOT NULL CHECK (property_id >= 0),
    reference        text,
    status           smallint NOT NULL,
    room_type_id     integer NOT NULL,
    room_name        text NOT NULL,
    check_in         date NOT NULL,
    check_out        date NOT NULL CHECK (check_out > check_in),
    adults           integer NOT NULL,
    children         integer NOT NULL,
    child_ages       integer[] NOT NULL DEFAULT '{}',
    guest_first_name text NOT NULL DEFAULT '',
    guest_last_name  text NOT NULL DEFAULT '',
    guest_email      text NOT NULL DEFAULT '',
    guest_phone      text NOT NULL DEFAULT '',
    total_price      numeric(12, 2) NOT NULL,
    currency         text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, property_id, reference)
);
