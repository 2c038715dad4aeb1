-- TLS assets shared by every instance (internal/certstore, the
-- caddy.storage.postgres module): certificates, private keys, ACME account
-- data and OCSP staples, one row per certmagic storage key. Directories are
-- implicit: a key's prefixes up to each '/'.
CREATE TABLE certmagic_data (
    key      text PRIMARY KEY,
    value    bytea NOT NULL,
    modified timestamptz NOT NULL DEFAULT now()
);

-- certmagic's cluster locks (e.g. one certificate order per domain) as
-- leases: the holder renews expires_at while it works; a holder that died
-- stops renewing and its lock is free once expires_at has passed. Times are
-- the database's, so instances' clocks never disagree about expiry.
CREATE TABLE certmagic_locks (
    name       text PRIMARY KEY,
    owner      text NOT NULL,
    expires_at timestamptz NOT NULL
);
