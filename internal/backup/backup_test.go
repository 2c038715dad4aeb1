package backup_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/agentehotel/agente-caddy/internal/backup"
	"github.com/agentehotel/agente-caddy/internal/store"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// populate puts rows in every table of the schema, with the values that
// make a dump's text differ from a naive copy: NULLs, JSON, arrays, bytea,
// numerics, dates, text with quotes, newlines and non-ASCII letters.
const populate = `
INSERT INTO tenants (id, name, timezone, language, pms_hotel_id, whatsapp_template_name, whatsapp_template_language, whatsapp_template_body_parameters)
VALUES ('hotel_madrid', 'Hotel "Madrid" Centro', 'Europe/Madrid', 'es', 3, 'reengage', 'es', '{guest_name,hotel}'),
       ('hotel_lisboa', E'Hotel Lisboa\nRibeira', 'Europe/Lisbon', 'en', 1, '', '', '{}');
INSERT INTO tenant_user_identifiers (tenant_id, identifier_type, identifier_value, channel)
VALUES ('hotel_madrid', 'phone_number_id', '1029384756', 'whatsapp'), ('hotel_lisboa', 'email', 'reservas@lisboa.example', 'email');
INSERT INTO sessions (session_id, tenant_id, user_id, channel, state, expires_at)
VALUES ('s-1', 'hotel_madrid', '34600111222', 'whatsapp', '{"step": "dates", "party": {"adults": 2}}', now() + interval '1 day');
INSERT INTO admin_audit (actor, action, target, detail) VALUES ('ops@hotel', 'tenant.create', 'hotel_madrid', '{"name": "Hotel Madrid"}');
INSERT INTO inbox_messages (tenant_id, channel, message_id, conversation_key, sent_at, payload, accepted_at, state, attempts, next_attempt_at, last_error, done_at)
VALUES ('hotel_madrid', 'whatsapp', 'wamid.1', 'hotel_madrid|whatsapp|34600111222', now(), '{"text": "¿Tenéis habitación?"}', now(), 'done', 1, now(), NULL, now()),
       ('hotel_madrid', 'whatsapp', 'wamid.2', 'hotel_madrid|whatsapp|34600111222', NULL, '{"text": "para 2"}', now(), 'pending', 0, now(), NULL, NULL),
       ('hotel_lisboa', 'email', '<m1@guest.example>', 'hotel_lisboa|email|guest@example.com', now(), '{"text": "hello"}', now(), 'dead', 5, now(), 'pms: not found', now());
INSERT INTO inbox_leases (conversation_key, seq, claimed_by, lease_until, token)
VALUES ('hotel_madrid|whatsapp|34600111222', 2, 'worker-a', now() + interval '30 seconds', nextval('inbox_lease_token_seq'));
INSERT INTO inbox_statuses (tenant_id, channel, message_id, status, recipient, sent_at, errors, accepted_at)
VALUES ('hotel_madrid', 'whatsapp', 'wamid.out.1', 'delivered', '34600111222', now(), NULL, now()),
       ('hotel_madrid', 'whatsapp', 'wamid.out.2', 'failed', '34600111222', now(), '[{"code": 131047}]', now());
INSERT INTO inbox_ready (conversation_key, tenant_id, turn, due_at, tail_seq) VALUES ('hotel_madrid|whatsapp|34600111222', 'hotel_madrid', 7, now(), 2);
INSERT INTO outbox_replies (tenant_id, channel, recipient, phone_number_id, in_reply_to, subject, conversation_key, payload, accepted_at, state, attempts, next_attempt_at, provider_id, done_at)
VALUES ('hotel_madrid', 'whatsapp', '34600111222', '1029384756', 'wamid.1', '', 'hotel_madrid|whatsapp|34600111222', '{"text": "Sí, tenemos"}', now(), 'sent', 1, now(), 'wamid.out.1', now()),
       ('hotel_lisboa', 'email', 'guest@example.com', '', '<m1@guest.example>', 'Re: Room', 'hotel_lisboa|email|guest@example.com', '{"text": "Yes"}', now(), 'held', 0, 'infinity', NULL, NULL);
INSERT INTO outbox_leases (conversation_key, seq, claimed_by, lease_until, token)
VALUES ('hotel_lisboa|email|guest@example.com', 2, 'sender-b', now(), nextval('outbox_lease_token_seq'));
INSERT INTO outbox_ready (conversation_key, tenant_id, turn, due_at, tail_seq, held) VALUES ('hotel_lisboa|email|guest@example.com', 'hotel_lisboa', 3, 'infinity', 2, true);
INSERT INTO demo_pms_nights (tenant_id, property_id, room_type_id, night, rooms_taken) VALUES ('hotel_madrid', 3, 1, '2027-03-01', 2);
INSERT INTO demo_pms_bookings (id, tenant_id, property_id, reference, status, room_type_id, room_name, check_in, check_out, adults, children, child_ages, guest_first_name, guest_last_name, total_price, currency)
VALUES ('DEMO-' || nextval('demo_pms_booking_seq'), 'hotel_madrid', 3, 'REF1', 2, 1, 'Doble', '2027-03-01', '2027-03-03', 2, 1, '{4}', 'Ana', 'Núñez', 240.50, 'EUR');
INSERT INTO guest_consent (tenant_id, channel, guest, opted_out, changed_at, message_id, text) VALUES ('hotel_madrid', 'whatsapp', '34600999888', true, now(), 'wamid.9', 'BAJA');
INSERT INTO guest_consent_changes (tenant_id, channel, guest, opted_out, changed_at, message_id, text) VALUES ('hotel_madrid', 'whatsapp', '34600999888', true, now(), 'wamid.9', 'BAJA');
INSERT INTO webhook_unrouted (event_key, channel, field, kind, phone_number_id, payload, received_at) VALUES ('k1', 'whatsapp', 'messages', 'message', '555', '{"entry": []}', now());
INSERT INTO mailbox_state (mailbox, uid_validity, last_uid) VALUES ('reservas@lisboa.example', 1700000000, 42);
INSERT INTO tenant_mailboxes (tenant_id, imap_addr, smtp_addr, username, address, password_sealed, updated_by)
VALUES ('hotel_lisboa', 'imap.lisboa.example:993', 'smtp.lisboa.example:587', 'reservas', 'reservas@lisboa.example', '\x00ff10', 'ops');
INSERT INTO certmagic_data (key, value) VALUES ('certificates/acme/hotel.example/hotel.example.crt', '\x2d2d2d2d2d');
INSERT INTO certmagic_locks (name, owner, expires_at) VALUES ('issue_cert_hotel.example', 'instance-1', now() + interval '1 minute');
INSERT INTO admin_token_revocations (jti, expires_at, revoked_by) VALUES ('0123abcd', now() + interval '30 days', 'ops@hotel');
INSERT INTO conversations (tenant_id, channel, guest, name, state, waiting_since, last_message_at, last_text, booking_ref)
VALUES ('hotel_madrid', 'whatsapp', '34600111222', 'Ana', 'waiting', now(), now(), 'quiero hablar con una persona', 'REF1');
`

// state is what a round trip must keep: every table's rows (an MD5 of them
// in order) and every sequence's position.
type state struct {
	tables    map[string]string
	sequences map[string]string
}

func readState(t *testing.T, ctx context.Context, pool *pgxpool.Pool) state {
	t.Helper()
	s := state{tables: map[string]string{}, sequences: map[string]string{}}
	rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range tables {
		var sum *string
		ident := pgx.Identifier{name}.Sanitize()
		if err := pool.QueryRow(ctx, `SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM `+ident+` t`).Scan(&sum); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if sum == nil {
			s.tables[name] = "empty"
		} else {
			s.tables[name] = *sum
		}
	}
	rows, err = pool.Query(ctx, `SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range seqs {
		var v string
		if err := pool.QueryRow(ctx, `SELECT last_value || '/' || is_called FROM `+pgx.Identifier{name}.Sanitize()).Scan(&v); err != nil {
			t.Fatal(err)
		}
		s.sequences[name] = v
	}
	return s
}

func sameState(t *testing.T, what string, before, after state) {
	t.Helper()
	for name, sum := range before.tables {
		if after.tables[name] != sum {
			t.Errorf("%s: table %s is %s, was %s", what, name, after.tables[name], sum)
		}
	}
	for name := range after.tables {
		if _, ok := before.tables[name]; !ok {
			t.Errorf("%s: table %s appeared", what, name)
		}
	}
	for name, v := range before.sequences {
		if after.sequences[name] != v {
			t.Errorf("%s: sequence %s at %s, was %s", what, name, after.sequences[name], v)
		}
	}
}

// redisEntry is a key's content (its DUMP payload) and absolute expiry.
type redisEntry struct {
	dump     string
	expireAt int64
}

func readRedis(t *testing.T, ctx context.Context, c *redis.Client, keys []string) map[string]redisEntry {
	t.Helper()
	out := map[string]redisEntry{}
	for _, k := range keys {
		d, err := c.Dump(ctx, k).Result()
		if err == redis.Nil {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		at, err := c.PExpireTime(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		out[k] = redisEntry{dump: d, expireAt: int64(at / time.Millisecond)}
	}
	return out
}

// freshDatabase is testservices.MigratedPostgres with its URL, for the
// backup's configuration.
func freshDatabase(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	pool := testservices.MigratedPostgres(t)
	return pool.Config().ConnString(), pool
}

// Backup → wipe → restore gives back every table, every sequence and our
// Redis keys with their expiry; a second restore over changed data needs
// --replace and undoes the changes; an altered backup is refused before
// anything is touched.
func TestBackupWipeRestoreRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pgURL, pool := freshDatabase(t)
	if _, err := pool.Exec(ctx, populate); err != nil {
		t.Fatalf("populating: %v", err)
	}
	before := readState(t, ctx, pool)
	for name, sum := range before.tables {
		if sum == "empty" {
			t.Errorf("table %s has no rows: add some to populate so the round trip covers it", name)
		}
	}

	redisURL, prefix := testservices.Redis(t)
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	defer rc.Close()
	ours := []string{prefix + "feature_flags", prefix + "feature:whatsapp.mark_read", prefix + "ratelimit:webhook:1.2.3.4", prefix + "pms:hotel_madrid:availability:3", prefix + "pms:short"}
	other := prefix + "someone-else:key"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rc.HSet(ctx, ours[0], "features.interactive_messages", "true", "nlp.fallback.enhanced", "false").Err())
	must(rc.Set(ctx, ours[1], "1", 0).Err())
	must(rc.ZAdd(ctx, ours[2], redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"}).Err())
	must(rc.PExpire(ctx, ours[2], 10*time.Minute).Err())
	must(rc.Set(ctx, ours[3], `{"rooms":[1,2]}`, time.Hour).Err())
	// Long enough for the backup to see it even on a loaded machine, short
	// enough to have expired when the restore runs (the test waits for it).
	shortLived := 4 * time.Second
	must(rc.Set(ctx, ours[4], "gone soon", shortLived).Err())
	shortSet := time.Now()
	must(rc.Set(ctx, other, "not ours", 0).Err())
	redisBefore := readRedis(t, ctx, rc, ours)

	cfg := backup.Config{PostgresURL: pgURL, RedisURL: redisURL, RedisKeyPrefix: prefix, Dir: t.TempDir(), Version: "test"}
	res, err := backup.Backup(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	var rows int64
	for _, d := range m.Postgres.Tables {
		rows += d.Rows
	}
	t.Logf("backup %s: %d bytes, %d tables, %d rows, schema %s, pg_dump %s, server %s, %d Redis keys (Redis %s)",
		filepath.Base(res.Dir), res.Bytes, len(m.Postgres.Tables), rows, m.Postgres.SchemaVersion, m.Postgres.PgDumpVersion, m.Postgres.ServerVersion, m.Redis.Keys, m.Redis.ServerVersion)
	if len(m.Postgres.Tables) != len(before.tables) {
		t.Errorf("manifest describes %d tables, the database has %d", len(m.Postgres.Tables), len(before.tables))
	}
	if took := time.Since(shortSet); took >= shortLived {
		t.Fatalf("the backup finished %v after %s was set, past its %v TTL: the expiry check below would prove nothing", took, ours[4], shortLived)
	}
	if m.Redis.Keys != len(ours) {
		t.Errorf("backed up %d Redis keys, want %d (not %s)", m.Redis.Keys, len(ours), other)
	}
	migs, _ := store.Migrations()
	if want := migs[len(migs)-1].Name; m.Postgres.SchemaVersion != want {
		t.Errorf("schema version %q, want %q", m.Postgres.SchemaVersion, want)
	}
	if _, err := backup.Verify(res.Dir); err != nil {
		t.Fatal(err)
	}

	// Wipe: the schema and our keys go.
	_, err = pool.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`)
	must(err)
	must(rc.Del(ctx, ours...).Err())
	time.Sleep(time.Until(shortSet.Add(shortLived + 100*time.Millisecond)))

	got, err := backup.Restore(ctx, cfg, res.Dir, backup.RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restored %d tables, %d rows, %d Redis keys (%d expired)", got.Tables, got.Rows, got.RedisKeys, got.RedisExpired)
	sameState(t, "after wipe and restore", before, readState(t, ctx, pool))
	if got.RedisKeys != len(ours)-1 || got.RedisExpired != 1 {
		t.Errorf("restored %d Redis keys, %d expired; want %d and 1", got.RedisKeys, got.RedisExpired, len(ours)-1)
	}
	redisAfter := readRedis(t, ctx, rc, ours)
	for _, k := range ours[:4] {
		if redisAfter[k] != redisBefore[k] {
			t.Errorf("Redis %s after restore %+v, before %+v", k, redisAfter[k], redisBefore[k])
		}
	}
	if _, ok := redisAfter[ours[4]]; ok {
		t.Errorf("%s expired before the restore but came back", ours[4])
	}
	if v, _ := rc.Get(ctx, other).Result(); v != "not ours" {
		t.Errorf("a key outside our families was changed: %q", v)
	}

	// Over changed data: refused without replace, undone with it.
	_, err = pool.Exec(ctx, `INSERT INTO tenants (id, name) VALUES ('hotel_new', 'New');
		DELETE FROM inbox_messages WHERE message_id = 'wamid.2';
		UPDATE conversations SET state = 'closed';
		SELECT nextval('inbox_messages_seq_seq')`)
	must(err)
	must(rc.HSet(ctx, ours[0], "features.interactive_messages", "false").Err())
	must(rc.Set(ctx, prefix+"feature:later", "1", 0).Err())
	if _, err := backup.Restore(ctx, cfg, res.Dir, backup.RestoreOptions{}); err == nil || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("restore over a populated database: %v, want a refusal naming --replace", err)
	}
	if _, err := backup.Restore(ctx, cfg, res.Dir, backup.RestoreOptions{Replace: true}); err != nil {
		t.Fatal(err)
	}
	sameState(t, "after restore with replace", before, readState(t, ctx, pool))
	redisAfter = readRedis(t, ctx, rc, append(ours, prefix+"feature:later"))
	if redisAfter[ours[0]] != redisBefore[ours[0]] {
		t.Errorf("the feature flags were not put back")
	}
	if _, ok := redisAfter[prefix+"feature:later"]; ok {
		t.Errorf("a flag set after the backup survived the restore")
	}

	// A database at a newer schema than the backup's is refused.
	_, err = pool.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ('9999_from_the_future')`)
	must(err)
	if _, err := backup.Restore(ctx, cfg, res.Dir, backup.RestoreOptions{Replace: true}); err == nil || !strings.Contains(err.Error(), "9999_from_the_future") {
		t.Errorf("restore over a newer schema: %v, want a refusal naming the migration", err)
	}
	_, err = pool.Exec(ctx, `DELETE FROM schema_migrations WHERE name = '9999_from_the_future'`)
	must(err)

	// Altered backups are refused before anything is touched.
	mark := readState(t, ctx, pool)
	for _, c := range []struct {
		name  string
		alter func(dir string)
		want  string
	}{
		{"a flipped byte", func(dir string) { flipByte(t, filepath.Join(dir, backup.PostgresFile)) }, "SHA-256"},
		{"a truncated dump", func(dir string) { must(os.Truncate(filepath.Join(dir, backup.PostgresFile), 100)) }, "truncated"},
		{"a missing Redis file", func(dir string) { must(os.Remove(filepath.Join(dir, backup.RedisFile))) }, "incomplete"},
		{"no manifest", func(dir string) { must(os.Remove(filepath.Join(dir, backup.ManifestFile))) }, "not a backup"},
		{"a manifest without the dump", func(dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, backup.ManifestFile))
			var raw map[string]any
			must(json.Unmarshal(b, &raw))
			delete(raw["files"].(map[string]any), backup.PostgresFile)
			b, _ = json.Marshal(raw)
			must(os.WriteFile(filepath.Join(dir, backup.ManifestFile), b, 0o640))
		}, "lists no postgres.dump"},
	} {
		dir := copyDir(t, res.Dir)
		c.alter(dir)
		_, err := backup.Restore(ctx, cfg, dir, backup.RestoreOptions{Replace: true})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: restore said %v, want an error with %q", c.name, err, c.want)
		}
	}
	sameState(t, "after refused restores", mark, readState(t, ctx, pool))
}

func flipByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// Pruning keeps the newest backups by count and age, the newest always,
// and never removes a directory without a valid manifest.
func TestPruneKeepsTheNewest(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	for day := range 6 {
		writeFakeBackup(t, filepath.Join(dir, "b"+string(rune('0'+day))), now.Add(-time.Duration(day)*24*time.Hour))
	}
	for _, junk := range []string{"not-a-backup", ".partial-20261207T000000Z"} {
		if err := os.MkdirAll(filepath.Join(dir, junk), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "bad-manifest"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad-manifest", backup.ManifestFile), []byte("{"), 0o640); err != nil {
		t.Fatal(err)
	}
	left := func() []string {
		des, _ := os.ReadDir(dir)
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		slices.Sort(names)
		return names
	}

	removed, err := backup.Prune(backup.Config{Dir: dir, Keep: 4}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Errorf("removed %v, want b4 and b5", removed)
	}
	if got, want := left(), []string{".partial-20261207T000000Z", "b0", "b1", "b2", "b3", "bad-manifest", "not-a-backup"}; !slices.Equal(got, want) {
		t.Errorf("after keep 4: %v, want %v", got, want)
	}
	if _, err := backup.Prune(backup.Config{Dir: dir, MaxAge: 36 * time.Hour}, now); err != nil {
		t.Fatal(err)
	}
	if got, want := left(), []string{".partial-20261207T000000Z", "b0", "b1", "bad-manifest", "not-a-backup"}; !slices.Equal(got, want) {
		t.Errorf("after max age 36h: %v, want %v", got, want)
	}
	// Even past every age, the newest stays.
	if _, err := backup.Prune(backup.Config{Dir: dir, Keep: 1, MaxAge: time.Hour}, now.Add(30*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, want := left(), []string{".partial-20261207T000000Z", "b0", "bad-manifest", "not-a-backup"}; !slices.Equal(got, want) {
		t.Errorf("after everything aged: %v, want %v", got, want)
	}
}

func writeFakeBackup(t *testing.T, dir string, created time.Time) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	m := backup.Manifest{Format: backup.Format, CreatedAt: created, Files: map[string]backup.FileID{backup.PostgresFile: {}}}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, backup.ManifestFile), b, 0o640); err != nil {
		t.Fatal(err)
	}
}

// pg_dump older than the server, or none at all, is refused with what to
// install.
func TestBackupRefusesAMissingOrOlderPgDump(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := backup.Backup(ctx, backup.Config{PostgresURL: "postgres://127.0.0.1/x", Dir: t.TempDir(), PgDump: "pg_dump_missing_here"})
	if err == nil || !strings.Contains(err.Error(), "apt-get install postgresql-client") {
		t.Errorf("without pg_dump: %v, want the package to install", err)
	}

	pgURL := testservices.Postgres(t)
	old := filepath.Join(t.TempDir(), "pg_dump")
	if err := os.WriteFile(old, []byte("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = backup.Backup(ctx, backup.Config{PostgresURL: pgURL, Dir: dir, PgDump: old})
	if err == nil || !strings.Contains(err.Error(), "older than the Postgres server") || !strings.Contains(err.Error(), "postgresql-client-") {
		t.Errorf("with pg_dump 9.6: %v, want a refusal naming the client to install", err)
	}
	if des, _ := os.ReadDir(dir); len(des) != 0 {
		t.Errorf("a failed backup left %d entries in its directory", len(des))
	}
}

// The dump and the manifest's digests come from one snapshot: with rows
// written all through the backup, the dump restored into another, new
// database matches the manifest table by table (the restore checks it).
func TestBackupDuringWritesIsOneSnapshot(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pgURL, pool := freshDatabase(t)
	if _, err := pool.Exec(ctx, populate); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	written := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				written <- n
				return
			default:
			}
			if _, err := pool.Exec(ctx, `INSERT INTO admin_audit (actor, action) VALUES ('writer', 'tick')`); err == nil {
				n++
			}
		}
	}()
	res, err := backup.Backup(ctx, backup.Config{PostgresURL: pgURL, Dir: t.TempDir()})
	close(stop)
	n := <-written
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Redis != nil {
		t.Error("a backup without a Redis URL describes Redis keys")
	}
	var live int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM admin_audit`).Scan(&live); err != nil {
		t.Fatal(err)
	}
	inBackup := res.Manifest.Postgres.Tables["public.admin_audit"].Rows
	t.Logf("%d rows written during the backup; admin_audit: %d in the backup, %d now", n, inBackup, live)
	if inBackup >= live {
		t.Fatalf("no row was written after the snapshot (%d in the backup, %d now): the test proves nothing", inBackup, live)
	}

	other := testservices.Postgres(t)
	got, err := backup.Restore(ctx, backup.Config{PostgresURL: other}, res.Dir, backup.RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Tables != len(res.Manifest.Postgres.Tables) {
		t.Errorf("restored %d tables, the backup has %d", got.Tables, len(res.Manifest.Postgres.Tables))
	}
}
