package lakelog

import (
	"context"
	"math/rand/v2"
	"time"
)

// Retry policy for commits that lost a race or hit an ambiguous store error:
// full-jitter exponential backoff (AWS architecture blog, "Exponential
// Backoff And Jitter"). Jitter spreads contending writers out so that one of
// them wins each round instead of all of them colliding again.
const (
	backoffBase = 1 * time.Millisecond
	backoffCap  = time.Second
)

// backoff returns the pause before attempt+1: uniform in
// [0, min(cap, base*2^(attempt-1))).
func backoff(attempt int) time.Duration {
	ceiling := backoffCap
	if attempt < 12 { // 1ms<<11 = 2s > cap
		ceiling = min(backoffCap, backoffBase<<max(attempt-1, 0))
	}
	return rand.N(ceiling)
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
