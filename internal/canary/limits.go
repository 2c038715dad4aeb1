package canary

import "github.com/agentehotel/agente-caddy/internal/judge"

// LimitOverrides are the judge limits a canary's config sets. A zero field
// (a nil ErrAbsMin) leaves the limit to the environment, else to the judge's
// default.
type LimitOverrides struct {
	P95IncreaseLimit float64
	// P95IncreaseMin is in seconds; nil leaves it to P95_INCREASE_MIN or 5 ms.
	P95IncreaseMin   *float64
	ErrIncreaseLimit float64
	ErrAbsMin        *float64
	Alpha            float64
	MinSamples       uint64
}

// Limits are the judge's limits for a canary: the environment's
// (P95_INCREASE_LIMIT, ERR_INCREASE_LIMIT, ERR_ABS_MIN, read with getenv; nil
// reads the process's) with o's overrides, checked.
func (o LimitOverrides) Limits(getenv func(string) string) (judge.Limits, error) {
	l, err := judge.LimitsFromEnv(getenv)
	if err != nil {
		return l, err
	}
	if o.P95IncreaseLimit != 0 {
		l.P95IncreaseLimit = o.P95IncreaseLimit
	}
	if o.P95IncreaseMin != nil {
		l.P95IncreaseMin = *o.P95IncreaseMin
	}
	if o.ErrIncreaseLimit != 0 {
		l.ErrIncreaseLimit = o.ErrIncreaseLimit
	}
	if o.ErrAbsMin != nil {
		l.ErrAbsMin = *o.ErrAbsMin
	}
	if o.Alpha != 0 {
		l.Alpha = o.Alpha
	}
	if o.MinSamples != 0 {
		l.MinSamples = o.MinSamples
	}
	return l, l.Validate()
}
