// Package inbox makes webhook ingestion durable and processing exactly-once
// in effect: the inbox holds accepted guest messages and delivery statuses
// until a worker has handled them, and the outbox holds the replies that
// handling produced until they are delivered. Both live in one package
// because a message is marked done in the same transaction that queues its
// replies; that atomic step is the whole point.
//
// # The path of a message
//
//	webhook ─▶ Accept (one INSERT … ON CONFLICT DO NOTHING, committed) ─▶ 200
//	Run: claim ─▶ Handler(ctx, msg) → replies ─▶ commit {message done + replies queued}
//	RunSender: claim reply ─▶ Sender.Send ─▶ record provider id (wamid), or retry / fail / hold / suppress
//
// Accept returns nil only once the batch is durable (Postgres: committed in a
// single statement and round trip). Redelivered messages, keyed by (tenant_id,
// channel, message id), are counted as duplicates and never handled again.
//
// # Guarantees
//
//   - Every accepted message is handed to the Handler until it succeeds, or
//     it is marked dead after MaxAttempts (exponential back-off with jitter
//     between attempts; a Permanent error marks it dead at once). The last
//     error is recorded. A dead message no longer blocks its conversation.
//   - Messages of one conversation (chat.Message.ConversationKey) are handled
//     one at a time, in acceptance order (within a batch: by the channel's
//     timestamp). A message waiting for a retry holds back the later messages
//     of its conversation; other conversations run in parallel, up to Workers.
//   - A crash (kill -9) loses nothing: unfinished rows stay pending, and a
//     conversation claimed by a dead instance becomes claimable again when its
//     lease expires. Live workers renew their leases every LeaseDuration/3.
//   - Exactly-once effect: the Handler does not send; it returns replies. The
//     message is marked done and its replies are queued in one transaction,
//     and only if the claim's fencing token is still current. A worker that
//     lost its lease (it stalled past expiry and another instance took the
//     message over) cannot commit, so a message yields its replies once.
//     On Postgres the Handler's context carries a store.Deferred: the
//     writes its stores queue there (the guest's session, the staff's view)
//     are sent after the completion in the same transaction, and only when
//     the fence holds, so they too happen once, with the replies, or not
//     at all. Completions that arrive together share that transaction
//     (see Group commit); each keeps its own fence. A deferred session
//     save is written as of that commit: staff's reset of the handoff or
//     an erasure committed since the turn's load stands
//     (agent.SessionStore).
//     Side effects a Handler performs itself (booking in a PMS) happen at
//     least once and must be idempotent, e.g. keyed by the message id.
//   - Sending is at least once: a crash after the provider accepted a reply
//     and before the outbox recorded it resends that one reply after the lease
//     expires. The Cloud API has no idempotency key, so this window (one
//     in-flight reply per recipient) cannot be closed from our side.
//
// # Per-conversation ordering across instances: a lease row in Postgres
//
// The usual choices are a per-conversation lock in Redis or partitioned
// workers. We chose neither: the lock is a row in Postgres (inbox_leases,
// keyed by conversation), taken in the same statement that claims the
// message.
//
//   - Redis would be a second source of truth beside the rows it guards: a
//     lock held in Redis while the row's state lives in Postgres needs its own
//     expiry, fencing and failure handling, and a Redis outage would stop
//     processing though the inbox itself is healthy.
//   - Partitioned workers (conversation hash → instance) need membership and
//     rebalancing; while partitions move, ordering is exactly what breaks, and
//     one slow conversation stalls every other in its partition.
//
// A claim walks the line of ready conversations (inbox_ready, outbox_ready:
// one row per conversation with open work, ordered by turn) from its front,
// looks up each one's oldest open item (the head) by index, locks those rows
// with FOR UPDATE SKIP LOCKED, and takes each conversation's
// lease with INSERT … ON CONFLICT (conversation_key) DO UPDATE … WHERE
// lease_until <= now. That upsert sees the latest committed lease whatever the
// statement's snapshot was, so two instances never hold one conversation even
// when they race; a conversation whose lease is live is skipped, not waited
// for. The lease carries a token from a sequence, copied onto the message row;
// finishing (done, retry, dead) is conditional on that token, which is the
// fence against a worker that lost its lease. Per-conversation order across
// instances follows: only a head can be claimed, and only with the lease.
//
// # Claims: a line, not a scan
//
// A claim reads what it takes, not the backlog: with 100 or 100,000 pending
// it touches about the same pages (backlog_test.go counts them). The line
// is kept by the writes themselves, each in its own statement: an accept
// puts a conversation that was out of line at the back of its hotel's part
// of the line but never behind the line's front, so a hotel that was quiet
// is served next whatever another hotel's backlog (hotels take turns); an
// outcome puts the conversation at the back of its hotel's line again when
// more is queued behind the item (tail_seq, read on the row's latest
// version under its lock, so an accept committing meanwhile is never
// missed), else takes it out of line (due_at 'infinity'). A retry keeps it
// in line, due at the retry's time; a held reply takes it out until
// ReleaseHeld. Conversations waiting for a retry or leased are passed over
// by the walk, so what a claim reads grows with those, not with the
// messages pending. Prune deletes the rows of conversations with nothing
// open.
//
// # Group commit
//
// Accepts that arrive together share one statement (one transaction, one
// WAL flush, at most one wake-up): each caller's batch is queued, and one
// flush at a time takes everything queued so far; nothing waits for a
// timer, so a lone accept goes at once. Each caller is answered after the
// statement holding its rows has committed, with exactly its own fresh
// messages and statuses (pgaccept.go; the statement names the rows it
// recorded only when some it was sent were already there).
//
// The workers' outcomes are grouped the same way (pgcomplete.go,
// pgsent.go), one group in flight at a time per process and kind:
//
//   - Completions: one explicit transaction per group. It first locks
//     every completion's fence (the message row if it still carries the
//     claim's token, then the lease row if it does too) and the rows of
//     the lines it will change, in the lock order below, and reads which
//     fences hold; under those locks no other worker can take the leases
//     over. Then, in one pipelined batch, one statement completes every
//     completion whose fence held (marks the messages done, puts their
//     conversations back in line or out of it, queues their replies and
//     puts those guests in the outbox's line), their deferred writes
//     follow, then the commit. A completion whose fence failed is answered
//     errLeaseLost and none of its writes run; the others commit. One
//     commit and two round trips per group instead of one of each per
//     message.
//   - Sent records: one statement per group, which checks each reply's
//     fence as fenceCTE does and returns the replies it recorded; the
//     others are answered errLeaseLost.
//
// A lone outcome goes at once, in one round trip of its own (a completion
// then fails its own batch when its fence fails). If a group fails for
// any other reason (a deferred write refused, a lost connection), each of
// its members is committed again alone, so one member's failure is never
// another's.
//
// The outbox uses the leases and the line described above, keyed by
// tenant|channel|recipient, so the replies to one guest leave in the order
// they were queued, while different guests are sent to in parallel
// (SenderWorkers). A reply waiting for a retry
// holds back later replies to the same guest; a failed one does not.
//
// # Lock order
//
// The writers of the two queues run at once (accepts, claims, outcomes
// alone and in groups, enqueues, replays, releases of held replies,
// pruning) and lock rows of the same tables. Two transactions that lock
// two rows in opposite orders deadlock, and Postgres breaks that only
// after its deadlock_timeout (1 s) by failing one of them, which a group
// then writes again member by member: replies a second late and work done
// twice. So every transaction takes its row locks in one order,
//
//  1. the items (inbox_messages, outbox_replies), by seq;
//  2. the leases (inbox_leases, outbox_leases), by conversation key;
//  3. the inbox's line (inbox_ready), by conversation key;
//  4. the outbox's line (outbox_ready), by conversation key;
//
// never going back to an earlier step. A completion takes the inbox's
// steps, then the outbox's line (the replies it inserts are new rows that
// no one else can lock); a sent record the outbox's steps; an accept or
// enqueue only a line (step 3 or 4); a replay its dead items, then a line;
// a release of held replies those replies, then the outbox's line; an
// erasure its guest's finished items, then its rows of both lines. A claim
// takes its items with SKIP LOCKED, so it never waits for them, then its
// leases; pruning takes the lines' rows with SKIP LOCKED, leaving a busy
// conversation's row to its next round. Postgres locks the rows of a
// multi-row UPDATE ... FROM or DELETE ... USING in the order its plan
// produces them (the seq order of a join, the table's, a hash's), not by
// key. So a statement or group that locks several rows first takes each
// step's rows with SELECT ... ORDER BY ... FOR UPDATE (a line's rows that
// may not exist yet with INSERT ... SELECT ... ORDER BY ... ON CONFLICT DO
// UPDATE ... WHERE false, which locks without writing), the rows of one
// step collected in an array before the next step's first lock, and its
// writes then touch only rows already locked (pgsent.go, pgcomplete.go,
// releaseHeldSQL, replay, prune); an upsert whose SELECT is ordered by key
// (readyUpsertSQL) needs nothing more. pglockorder_test.go holds a line's
// first row from another transaction and checks that each writer waits for
// it holding none of the later ones.
//
// # Held and suppressed replies
//
// Two Sender answers are neither a success nor a failed attempt:
//
//   - Hold(err): the channel refused our credentials (an expired or revoked
//     WhatsApp access token). Every reply would fail the same way until an
//     operator acts, so none is charged an attempt or failed: the reply
//     becomes held (StateHeld, err recorded) and stays its guest's head, so
//     the guest's later replies wait behind it. A held reply is never
//     claimed; ReleaseHeld makes held replies pending again in place (one,
//     the oldest, to probe the channel; all once it works), so each is
//     still sent once and in its guest's order. Held rows are never pruned.
//   - Suppress(reason): the reply must not be sent (the guest opted out). It
//     ends as StateSuppressed with the reason, counts no attempt and no
//     failure, and the guest's next reply is taken. So that the Sender need
//     not read the guest's consent per reply, the Postgres outbox's claim
//     returns each reply's guest_consent row (OutboundReply.ClaimedConsent,
//     as committed when the claim ran; the memory outbox leaves it nil).
//
// # Wake-up
//
// After an accept group that gave work commits, agente_inbox is NOTIFYed
// in a transaction of its own, at most once per channel and process every
// 20 ms, coalescing the wakes in between (pgnotify.go: a NOTIFY inside
// each accept made their commits take turns). Replies a completion queued
// wake the senders of the process that completed it, or, when it runs
// none, every process's through agente_outbox the same way: other
// processes' senders woken for them only raced this one's, and take them
// at their next claim or poll when this one's are busy. Each Run/RunSender LISTENs
// on a dedicated connection outside the pool, so an accepted message is
// claimed within milliseconds. Polling every PollInterval covers lost
// notifications, retries coming due and expired leases.
//
// # Time
//
// Leases and retry times compare against Options.Now (default time.Now), not
// the database clock, so tests can move time deterministically. Instances that
// share a database must keep their clocks in sync (NTP); skew eats into the
// lease margin (30 s by default).
//
// # Memory implementation
//
// NewMemory has the same semantics in one process, for development and
// tests. It keeps everything in memory: a restart loses every pending
// message, reply and dedup key. Never use it where messages matter. A claim
// never scans the backlog: each conversation is a FIFO, conversations whose
// head can be taken wait in their hotel's ready list, and hotels take turns
// (memqueue.go), so a claim costs the same with 100 or 100,000 pending and
// one hotel's burst does not hold back another hotel. The newest
// Options.MemoryKeepFinished finished messages and as many replies stay
// listable (up to twice as many between trims), as many dead letters
// besides (the answered ones do not push them out), and dedup keys up to
// MemoryKeepDedup, so memory stays bounded under load; a dedup key is a
// 128-bit hash of (tenant, channel, id), so the collector has no pointers
// to follow in the set however large it is (memdedup.go).
//
// # Statuses
//
// Delivery statuses are deduplicated on (tenant, channel, message id, status)
// and stored; they are never handed to the Handler. They refer to replies we
// sent, so ReplyRecord.DeliveryStatus shows the latest one for each sent
// reply (with its time and, when failed, the channel's errors), and Statuses
// lists them. A receipt may arrive before the send it is about has been
// recorded; the join by provider id finds it all the same. AcceptResult
// lists the newly recorded statuses (FreshStatuses), and Options.OnStatus,
// when set, is called after Accept commits for each (at most once; for
// metrics and logs, not for work that must happen).
//
// # What Postgres cannot store
//
// Postgres refuses NUL in text and jsonb. Accept removes it from every
// string of every message and status, keys included, on every backend (an
// id or sender of NULs alone becomes U+FFFD instead, so it stays non-empty
// and a redelivery is still recognised), so one guest's NUL never refuses
// its batch. Invalid UTF-8 reaches storage as U+FFFD (the JSON encoding).
//
// # Unrouted events
//
// AcceptUnrouted keeps, durably and before the webhook is answered, what no
// hotel was found for: a redelivery is kept once (keyed by its ids, or for a
// field event by its content), each new one is counted in
// webhook_unrouted_total{field}, and nothing in it is ever handed to a
// Handler. Unrouted lists them, newest first.
package inbox
