package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/agentehotel/agente-caddy/internal/flags"
	"github.com/agentehotel/agente-caddy/test/testservices"
)

// tableSums is an MD5 of every public table's rows in order, and every
// sequence's position: what a backup round trip must give back.
func tableSums(t *testing.T, db *pgxpool.Pool) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	rows, err := db.Query(ctx, `SELECT table_name, 'table' FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
		UNION ALL SELECT sequence_name, 'sequence' FROM information_schema.sequences WHERE sequence_schema = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	type rel struct{ name, kind string }
	rels, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (rel, error) {
		var x rel
		return x, r.Scan(&x.name, &x.kind)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rels {
		q := `SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), 'empty') FROM ` + pgx.Identifier{r.name}.Sanitize() + ` t`
		if r.kind == "sequence" {
			q = `SELECT last_value || '/' || is_called FROM ` + pgx.Identifier{r.name}.Sanitize()
		}
		var v string
		if err := db.QueryRow(ctx, q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		out[r.kind+" "+r.name] = v
	}
	return out
}

// redisUnder is every key under prefix: its DUMP payload and absolute
// expiry (ms).
func redisUnder(t *testing.T, rdb *redis.Client, prefix string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		d, err := rdb.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		at, _ := rdb.PExpireTime(ctx, k).Result()
		out[strings.TrimPrefix(k, prefix)] = d + "|" + at.String()
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A guest books through the real binary (inbox, outbox, session,
// conversation, the demo PMS's booking, rate-limit windows and a feature
// flag in Redis); `agente-caddy backup` saves it, the schema and the keys
// are wiped, `agente-caddy restore` puts every table, sequence and key
// back as it was, and the restarted server finds the guest's booking.
func TestBackupWipeRestoreThroughTheBinary(t *testing.T) {
	s := startAgentStack(t, nil, flags.InteractiveMessages)
	env := map[string]string{}
	for _, k := range []string{"POSTGRES_URL", "REDIS_URL", "REDIS_KEY_PREFIX"} {
		env[k] = s.in.opts.Env[k]
	}
	prefix := env["REDIS_KEY_PREFIX"]
	opts, err := redis.ParseURL(env["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()

	w := newWebhookClient(2)
	guest := newGuestPhone()
	s.deliver(w, textMessage(guest, "wamid.bk-1-"+guest, "hola, tienen habitación doble "+stayPhrase(time.Now())+" para 2?"))
	s.waitReplies(guest, 1, 10*time.Second)
	s.deliver(w, textMessage(guest, "wamid.bk-2-"+guest, "la doble"))
	s.waitReplies(guest, 2, 10*time.Second)
	s.deliver(w, textMessage(guest, "wamid.bk-3-"+guest, "sin email"))
	s.waitReplies(guest, 3, 10*time.Second)
	s.deliver(w, textMessage(guest, "wamid.bk-4-"+guest, "sí"))
	r := s.waitReplies(guest, 4, 10*time.Second)
	number := bookingNumberRE.FindString(bodyText(r[3]))
	if number == "" {
		t.Fatalf("no booking number in %q", bodyText(r[3]))
	}
	s.waitQuiet(10 * time.Second)
	s.in.Stop()

	before := tableSums(t, s.db)
	var empty []string
	for name, v := range before {
		if v == "empty" {
			empty = append(empty, name)
		}
	}
	redisBefore := redisUnder(t, rdb, prefix)
	t.Logf("%d tables and sequences (%d empty: %v), %d Redis keys", len(before), len(empty), empty, len(redisBefore))
	for _, k := range []string{"table tenants", "table inbox_messages", "table outbox_replies", "table sessions", "table conversations", "table demo_pms_bookings"} {
		if before[k] == "empty" || before[k] == "" {
			t.Errorf("%s has no rows after a booking", k)
		}
	}
	if _, ok := redisBefore["feature_flags"]; !ok {
		t.Errorf("no feature_flags hash among the Redis keys %v", redisBefore)
	}

	dir := t.TempDir()
	out, code := Run(t, env, "backup", "--dir", dir, "--keep", "1")
	t.Logf("backup: %s", strings.TrimSpace(out))
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s", code, out)
	}
	out, code = Run(t, env, "backup", "--dir", dir, "--keep", "1")
	if code != 0 || !strings.Contains(out, "pruned ") {
		t.Fatalf("second backup with --keep 1: exit %d, want one pruned\n%s", code, out)
	}
	des, _ := os.ReadDir(dir)
	if len(des) != 1 {
		t.Fatalf("%d entries in the backup directory after --keep 1", len(des))
	}
	backupDir := filepath.Join(dir, des[0].Name())
	if out, code := Run(t, env, "backup-status", "--dir", dir, "--max-age", "1h"); code != 0 {
		t.Errorf("backup-status: exit %d\n%s", code, out)
	}

	if _, err := s.db.Exec(context.Background(), `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
	for k := range redisBefore {
		rdb.Del(context.Background(), prefix+k)
	}

	out, code = Run(t, env, "restore", backupDir)
	t.Logf("restore: %s", strings.TrimSpace(out))
	if code != 0 || !regexp.MustCompile(`\d+ tables, \d+ rows, each equal to the backup's; \d+ Redis keys`).MatchString(out) {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	after := tableSums(t, s.db)
	for name, v := range before {
		if after[name] != v {
			t.Errorf("%s: %s after the round trip, %s before", name, after[name], v)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d tables and sequences after, %d before", len(after), len(before))
	}
	redisAfter := redisUnder(t, rdb, prefix)
	for k, v := range redisBefore {
		// A window that expired between the backup and the restore is
		// rightly left out; every other key is as it was.
		if got, ok := redisAfter[k]; ok && got != v || !ok && !strings.HasPrefix(k, "ratelimit:") {
			t.Errorf("Redis %s: restored %q, was %q", k, got, v)
		}
	}

	// An altered dump is refused, and nothing is touched.
	dump := filepath.Join(backupDir, "postgres.dump")
	b, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0xff
	if err := os.WriteFile(dump, b, 0o640); err != nil {
		t.Fatal(err)
	}
	out, code = Run(t, env, "restore", "--replace", backupDir)
	if code == 0 || !strings.Contains(out, "refusing an altered backup") {
		t.Errorf("restore of an altered backup: exit %d\n%s", code, out)
	}

	// The restarted server carries on from the restored state: the booking
	// made before the backup is found by its number.
	s.in.Restart()
	s.deliver(w, textMessage(guest, "wamid.bk-5-"+guest, "quiero cancelar la reserva "+number))
	r = s.waitReplies(guest, 5, 10*time.Second)
	mustSay(t, r[4], "Vas a cancelar la reserva "+number)
}

// The compose service's loop: `backup --every` backs up at once and then at
// each interval, prunes to --keep after each, and stops cleanly on SIGTERM.
func TestBackupEveryIntervalKeepsTheNewest(t *testing.T) {
	pgURL := testservices.Postgres(t)
	env := map[string]string{"POSTGRES_URL": pgURL}
	if out, code := Run(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, out)
	}
	dir := t.TempDir()
	cmd := exec.Command(Binary(t), "backup", "--dir", dir, "--every", "1s", "--keep", "2")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "POSTGRES_URL=" + pgURL}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	testservices.Eventually(t, 60*time.Second, "four backups", func() bool {
		return strings.Count(out.String(), "\nbackup "+dir) >= 4
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "\npruned "); n < 2 {
		t.Errorf("%d backups pruned, want at least 2:\n%s", n, out.String())
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	if len(names) != 2 {
		t.Errorf("backup directory holds %v, want the 2 newest backups only", names)
	}
	if status, code := Run(t, map[string]string{}, "backup-status", "--dir", dir, "--max-age", "1m"); code != 0 || strings.Count(status, "\n") != 2 {
		t.Errorf("backup-status: exit %d\n%s", code, status)
	}
}
