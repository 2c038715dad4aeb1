package backup

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisKey is one line of the Redis file: a key of ours without the
// prefix, its DUMP payload, and when it expires (Unix ms by the server's
// clock; 0: never).
type redisKey struct {
	Key      string `json:"key"`
	Dump     []byte `json:"dump"`
	ExpireAt int64  `json:"expire_at_ms,omitempty"`
}

func redisClient(redisURL string) (*redis.Client, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("parsing the Redis URL: %w", err)
	}
	return redis.NewClient(opts), nil
}

func patterns(cfg Config) []string {
	if len(cfg.RedisKeys) > 0 {
		return cfg.RedisKeys
	}
	return DefaultRedisKeys
}

// escapeGlob makes s match itself in a Redis pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ourKeys lists the keys matching the patterns under the prefix, each once.
func ourKeys(ctx context.Context, c *redis.Client, prefix string, pats []string) ([]string, error) {
	seen := map[string]bool{}
	var keys []string
	for _, p := range pats {
		iter := c.Scan(ctx, 0, escapeGlob(prefix)+p, 1000).Iterator()
		for iter.Next(ctx) {
			if k := iter.Val(); !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
		if err := iter.Err(); err != nil {
			return nil, fmt.Errorf("listing Redis keys %s: %w", p, err)
		}
	}
	return keys, nil
}

// redisVersion reads the server's version from INFO.
func redisVersion(ctx context.Context, c *redis.Client) (string, error) {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", fmt.Errorf("Redis INFO: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v, nil
		}
	}
	return "", errors.New("Redis INFO has no redis_version")
}

// dumpRedis writes our keys to file, one JSON line each. Keys are read one
// batch at a time, not in one instant: a key that changes meanwhile is
// saved as it was when its batch was read.
func dumpRedis(ctx context.Context, cfg Config, file string) (RedisManifest, error) {
	rm := RedisManifest{KeyPrefix: cfg.RedisKeyPrefix, Patterns: patterns(cfg)}
	c, err := redisClient(cfg.RedisURL)
	if err != nil {
		return rm, err
	}
	defer c.Close()
	if rm.ServerVersion, err = redisVersion(ctx, c); err != nil {
		return rm, err
	}
	keys, err := ourKeys(ctx, c, cfg.RedisKeyPrefix, rm.Patterns)
	if err != nil {
		return rm, err
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return rm, err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	// PEXPIRETIME (Redis 7) reads a key's expiry exactly; before it, the
	// expiry is the server's TIME plus the key's PTTL, to within a
	// millisecond.
	exact := leadingInt(rm.ServerVersion) >= 7
	const batch = 500
	for start := 0; start < len(keys); start += batch {
		part := keys[start:min(start+batch, len(keys))]
		dumps := make([]*redis.StringCmd, len(part))
		expiries := make([]*redis.DurationCmd, len(part))
		var now *redis.TimeCmd
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			now = p.Time(ctx)
			for i, k := range part {
				dumps[i] = p.Dump(ctx, k)
				if exact {
					expiries[i] = p.PExpireTime(ctx, k)
				} else {
					expiries[i] = p.PTTL(ctx, k)
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return rm, fmt.Errorf("reading Redis keys: %w", err)
		}
		for i, k := range part {
			payload, err := dumps[i].Result()
			if errors.Is(err, redis.Nil) {
				continue // gone since it was listed
			}
			if err != nil {
				return rm, fmt.Errorf("DUMP %s: %w", k, err)
			}
			line := redisKey{Key: strings.TrimPrefix(k, cfg.RedisKeyPrefix), Dump: []byte(payload)}
			// Both commands answer -1 for no expiry and -2 for a key gone
			// since it was dumped.
			switch e := expiries[i].Val(); {
			case e == -2:
				continue
			case e < 0:
			case exact:
				line.ExpireAt = e.Milliseconds()
			default:
				line.ExpireAt = now.Val().Add(e).UnixMilli()
			}
			if err := enc.Encode(line); err != nil {
				return rm, err
			}
			rm.Keys++
		}
	}
	if err := w.Flush(); err != nil {
		return rm, err
	}
	if err := f.Sync(); err != nil {
		return rm, err
	}
	return rm, f.Close()
}

// restoreRedis makes our keys the backup's: in one MULTI/EXEC, the keys of
// ours matching the backup's patterns are deleted and the backup's restored
// under cfg's prefix with their original expiry. Keys whose expiry has
// passed are left out; it returns how many were restored and left out.
func restoreRedis(ctx context.Context, cfg Config, file string, rm RedisManifest) (restored, expired int, err error) {
	c, err := redisClient(cfg.RedisURL)
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	existing, err := ourKeys(ctx, c, cfg.RedisKeyPrefix, rm.Patterns)
	if err != nil {
		return 0, 0, err
	}
	now, err := c.Time(ctx).Result()
	if err != nil {
		return 0, 0, fmt.Errorf("Redis TIME: %w", err)
	}
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var lines []redisKey
	dec := json.NewDecoder(bufio.NewReader(f))
	for dec.More() {
		var k redisKey
		if err := dec.Decode(&k); err != nil {
			return 0, 0, fmt.Errorf("reading %s: %w", file, err)
		}
		if k.ExpireAt != 0 && k.ExpireAt <= now.UnixMilli() {
			expired++
			continue
		}
		lines = append(lines, k)
	}
	if len(lines)+expired != rm.Keys {
		return 0, 0, fmt.Errorf("%s holds %d keys, the manifest says %d", file, len(lines)+expired, rm.Keys)
	}
	_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range existing {
			p.Del(ctx, k)
		}
		for _, k := range lines {
			if k.ExpireAt == 0 {
				p.Do(ctx, "RESTORE", cfg.RedisKeyPrefix+k.Key, 0, string(k.Dump), "REPLACE")
			} else {
				p.Do(ctx, "RESTORE", cfg.RedisKeyPrefix+k.Key, k.ExpireAt, string(k.Dump), "REPLACE", "ABSTTL")
			}
		}
		return nil
	})
	if err != nil {
		return 0, expired, fmt.Errorf("restoring Redis keys: %w", err)
	}
	return len(lines), expired, nil
}
