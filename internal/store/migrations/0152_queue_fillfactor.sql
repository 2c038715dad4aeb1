-- A claim stamps its item (claimed_by, lease_token, attempts,
-- last_attempt_at: no indexed column), so the row's new version can stay
-- on its page with no new entry in any of the table's indexes (a heap-only
-- update), provided the page has room for it. Rows are inserted in seq
-- order and filled their pages, so nine claims in ten found none and
-- wrote a new entry in each index: four for a message, five for a reply.
-- Pages filled to half leave room for each row's claimed version (a little
-- larger than the row: the claim fills columns that were NULL); the
-- completion, which changes the state and cannot stay heap-only, leaves
-- the older versions dead for the page's next pruning. The price is disk:
-- these two tables take about twice the pages (BENCHMARKS.md).
ALTER TABLE inbox_messages SET (fillfactor = 50);
ALTER TABLE outbox_replies SET (fillfactor = 50);
