-- Where each mailbox the service reads over IMAP stands (internal/mailbox):
-- the folder's UIDVALIDITY and the highest UID handed to the inbox. A
-- restart goes on from the next UID, so it neither loses nor repeats a
-- mail; a new UIDVALIDITY (the folder was rebuilt) starts the folder over,
-- and the inbox's dedup by Message-ID keeps what was accepted from being
-- answered twice.
CREATE TABLE mailbox_state (
    mailbox      text PRIMARY KEY,   -- tenant|username@imap-host:port/folder
    uid_validity bigint NOT NULL,
    last_uid     bigint NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
