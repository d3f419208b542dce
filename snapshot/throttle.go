package snapshot

import (
	"context"
	"sync"
	"time"
)

// throttle is a token bucket shared by all workers: rate rows per second,
// bursts of at most burst rows. A nil *throttle never waits. Safe for
// concurrent use.
type throttle struct {
	rate  float64
	burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newThrottle(rowsPerSec int64) *throttle {
	if rowsPerSec <= 0 {
		return nil
	}
	// A tenth of a second of rows per burst keeps the source's load
	// smooth without making every row a lock round trip.
	burst := max(float64(rowsPerSec)/10, 1)
	return &throttle{rate: float64(rowsPerSec), burst: burst, tokens: burst, last: time.Now()}
}

// wait blocks until n rows may be read, or ctx ends. n larger than the
// burst is taken in burst-sized steps.
func (t *throttle) wait(ctx context.Context, n int) error {
	if t == nil {
		return nil
	}
	need := float64(n)
	for need > 0 {
		take := min(need, t.burst)
		d := t.reserve(take)
		if d > 0 {
			timer := time.NewTimer(d)
			select {
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			case <-timer.C:
			}
		}
		need -= take
	}
	return nil
}

// reserve takes n tokens, going into debt if needed, and returns how long
// the caller must wait for the debt to be repaid.
func (t *throttle) reserve(n float64) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	t.tokens = min(t.burst, t.tokens+now.Sub(t.last).Seconds()*t.rate)
	t.last = now
	t.tokens -= n
	if t.tokens >= 0 {
		return 0
	}
	return time.Duration(-t.tokens / t.rate * float64(time.Second))
}
