package limiter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentehotel/agente-caddy/internal/batching"
)

// slidingWindowScript decides one request against every KEYS[i] atomically.
//
// Each key is a sorted set of the request's admitted times in microseconds
// (the Redis server's TIME: instances' clocks may differ, the server's is the
// one clock they share). ARGV[1] is a member name unique to this call (two
// admissions in the same microsecond must not collapse into one member);
// ARGV[2i], ARGV[2i+1] are Events and Window (µs) of KEYS[i].
//
// Returns {now, admitted, then per key: count, retry_at, newest}: count is the
// requests in the window before this one; retry_at (when count >= events) the
// time a slot frees; newest the latest admitted time (0 when none). Only when
// every key has room is the call added to every key (and the key's TTL set to
// its window, so idle keys vanish).
const slidingWindowScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {now, 1}
local admit = 1
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2*i])
  local window = tonumber(ARGV[2*i+1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local n = redis.call('ZCARD', KEYS[i])
  local retry_at = 0
  local newest = 0
  if n > 0 then
    newest = tonumber(redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')[2])
  end
  if n >= limit then
    admit = 0
    retry_at = tonumber(redis.call('ZRANGE', KEYS[i], n - limit, n - limit, 'WITHSCORES')[2]) + window
  end
  out[#out+1] = n
  out[#out+1] = retry_at
  out[#out+1] = newest
end
if admit == 1 then
  for i = 1, #KEYS do
    redis.call('ZADD', KEYS[i], now, ARGV[1])
    redis.call('PEXPIRE', KEYS[i], math.ceil(tonumber(ARGV[2*i+1]) / 1000))
  end
end
out[2] = admit
return out
`

var slidingWindow = redis.NewScript(slidingWindowScript)

// DefaultRedisTimeout bounds one decision by Redis when RedisOptions.Timeout is 0.
const DefaultRedisTimeout = 250 * time.Millisecond

// RedisOptions configure a Redis limiter.
type RedisOptions struct {
	// KeyPrefix is prepended to every key (e.g. "ratelimit:").
	KeyPrefix string
	// Timeout bounds one decision (default DefaultRedisTimeout; negative: none).
	// The client must have ContextTimeoutEnabled for it to cut reads too.
	Timeout time.Duration
}

// RedisClient is what the limiter needs of a go-redis client
// (*redis.Client, *redis.ClusterClient, redis.UniversalClient): scripts,
// and pipelines to send many decisions in one round trip.
type RedisClient interface {
	redis.Scripter
	Pipeline() redis.Pipeliner
}

// maxRedisBatch bounds the decisions one pipeline carries.
const maxRedisBatch = 256

// Redis is a sliding-window limiter shared by every process using the same
// Redis server and key prefix: one script call per decision, whatever the
// number of limits.
//
// Decisions asked while another batch is on the wire go together in the next
// one (a batching.Queue): one pipeline of EVALSHA calls (each still atomic on its own), one
// write and one read, so a decision costs at most one round trip and under
// load a fraction of one, for this process and for the Redis server. There
// is no timer: a lone decision is sent at once. After a Redis restart
// (NOSCRIPT) the script is loaded and the batch's refused calls sent again.
//
// Keys of one AllowAll go to one script call, so on Redis Cluster they must
// share a hash slot (use a {hash tag} in KeyPrefix); a plain server or a
// Sentinel primary has no such constraint.
type Redis struct {
	client  RedisClient
	prefix  string
	timeout time.Duration
	member  string // unique per Redis value; with seq, unique per call
	seq     atomic.Uint64
	calls   *batching.Queue[*redisCall]
}

// redisCall is one AllowAll waiting for its batch.
type redisCall struct {
	keys []string
	args []any
	done chan redisAnswer
}

type redisAnswer struct {
	res []int64
	err error
}

// NewRedis returns a limiter deciding on client.
func NewRedis(client RedisClient, opts RedisOptions) *Redis {
	var b [8]byte
	_, _ = rand.Read(b[:])
	if opts.Timeout == 0 {
		opts.Timeout = DefaultRedisTimeout
	}
	r := &Redis{client: client, prefix: opts.KeyPrefix, timeout: opts.Timeout, member: hex.EncodeToString(b[:]) + "-"}
	r.calls = batching.New(batching.UpTo[*redisCall](maxRedisBatch), r.sendBatch)
	return r
}

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, limit Limit) (Decision, error) {
	var out [1]Decision
	_, err := r.AllowAll(ctx, []Request{{Key: key, Limit: limit}}, out[:])
	return out[0], err
}

// AllowAll implements Limiter in one script call.
func (r *Redis) AllowAll(ctx context.Context, reqs []Request, out []Decision) (bool, error) {
	if err := checkArgs(reqs, out); err != nil {
		return false, err
	}
	if len(reqs) == 0 {
		return true, nil
	}
	call := &redisCall{keys: make([]string, len(reqs)), args: make([]any, 1+2*len(reqs)), done: make(chan redisAnswer, 1)}
	call.args[0] = r.member + strconv.FormatUint(r.seq.Add(1), 36)
	for i := range reqs {
		call.keys[i] = r.prefix + reqs[i].Key
		window := reqs[i].Limit.Window.Microseconds()
		if window < 1 {
			window = 1
		}
		call.args[1+2*i] = reqs[i].Limit.Events
		call.args[2+2*i] = window
	}
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	r.calls.Add(call)
	var ans redisAnswer
	select {
	case ans = <-call.done:
	case <-ctx.Done():
		// The call may still be decided (and counted) by Redis; the
		// request is not told, as a timed-out script call before.
		ans.err = ctx.Err()
	}
	if ans.err != nil {
		return false, fmt.Errorf("redis rate limit: %w", ans.err)
	}
	res := ans.res
	if len(res) != 2+3*len(reqs) {
		return false, fmt.Errorf("redis rate limit: script answered %d values for %d keys", len(res), len(reqs))
	}
	now, admit := micros(res[0]), res[1] == 1
	for i := range reqs {
		count, freeing, newest := res[2+3*i], micros(res[3+3*i]), micros(res[4+3*i])
		out[i] = verdict(reqs[i].Limit, admit, int(count), now, freeing, newest)
	}
	return admit, nil
}

// sendBatch runs the batch's script calls in one pipeline and answers each
// caller. A caller that stopped waiting has its buffered answer dropped.
func (r *Redis) sendBatch(batch []*redisCall) {
	ctx := context.Background()
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	cmds := r.pipeline(ctx, batch, func(p redis.Pipeliner, c *redisCall) *redis.Cmd {
		return slidingWindow.EvalSha(ctx, p, c.keys, c.args...)
	})
	var again []int
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		// A restarted server lost its scripts: EVAL sends the script
		// and caches it there for the next batches' EVALSHA.
		retry := make([]*redisCall, len(again))
		for j, i := range again {
			retry[j] = batch[i]
		}
		evals := r.pipeline(ctx, retry, func(p redis.Pipeliner, c *redisCall) *redis.Cmd {
			return slidingWindow.Eval(ctx, p, c.keys, c.args...)
		})
		for j, i := range again {
			cmds[i] = evals[j]
		}
	}
	for i, c := range batch {
		res, err := cmds[i].Int64Slice()
		c.done <- redisAnswer{res: res, err: err}
	}
}

func (r *Redis) pipeline(ctx context.Context, calls []*redisCall, queue func(redis.Pipeliner, *redisCall) *redis.Cmd) []*redis.Cmd {
	p := r.client.Pipeline()
	cmds := make([]*redis.Cmd, len(calls))
	for i, c := range calls {
		cmds[i] = queue(p, c)
	}
	// Exec's error is the first command's; each command keeps its own.
	_, _ = p.Exec(ctx)
	return cmds
}
func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
