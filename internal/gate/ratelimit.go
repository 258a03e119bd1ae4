package gate

import (
	"sync"
	"time"

	"shuqiao/internal/clock"
)

// rateLimits is a token bucket per grant: RatePerMinute calls a minute with
// bursts of up to a tenth of a minute's worth (at least 10). It is per
// replica: N replicas allow up to N times the rate (docs/gate.md).
type rateLimits struct {
	mu      sync.Mutex
	clock   clock.Clock
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimits(clk clock.Clock) *rateLimits {
	return &rateLimits{clock: clk, buckets: map[string]*bucket{}}
}

func (r *rateLimits) allow(grantID string, perMinute int) bool {
	if perMinute <= 0 {
		return true
	}
	burst := max(float64(perMinute)/10, 10)
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.buckets[grantID]
	if !ok {
		b = &bucket{tokens: burst, last: now}
		r.buckets[grantID] = b
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(burst, b.tokens+el.Minutes()*float64(perMinute))
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
