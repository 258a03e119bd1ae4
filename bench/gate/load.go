package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// loadSpec is one load run against the benchmark's server. The generator
// runs in the benchmark's process: run from a child process (as wrk runs
// beside a server) it cost twice the CPU a call on the two cores both
// share, and the half-load p99 came out higher, not lower.
type loadSpec struct {
	Addr string
	// Path is "governed" or "bare".
	Path    string
	Rows    int
	Seconds float64
	// Workers > 0: a closed loop of that many connections. Rate > 0: an
	// open loop offering that many calls a second.
	Workers int
	Rate    float64
}

// loadResult is what a run measured.
type loadResult struct {
	Calls  int64
	PerSec float64
	// Latency of each open-loop call, from its scheduled time, so that
	// queueing counts (in schedule order).
	Latency []time.Duration
	// Lag is how late each open-loop call left the generator: its own
	// share of the latency.
	Lag []time.Duration
}

func doLoad(spec loadSpec) (loadResult, error) {
	client := newLoadClient(spec.Addr)
	defer client.close()
	d := time.Duration(spec.Seconds * float64(time.Second))
	next := urlFor(spec.Path, spec.Rows)
	switch {
	case spec.Workers > 0:
		rate, n, err := closedLoop(client, next, spec.Workers, d)
		return loadResult{Calls: n, PerSec: rate}, err
	case spec.Rate > 0:
		return openLoop(client, next, spec.Rate, d)
	}
	return loadResult{}, errors.New("load generator: neither workers nor rate")
}

// urlFor returns a generator of requests for 100 rows from a random key.
func urlFor(path string, rows int) func(*rand.Rand) string {
	return func(rng *rand.Rand) string {
		k := fmt.Sprintf("%08d", rng.IntN(max(rows-100, 1)))
		if path == "governed" {
			return "/governed?cursor=" + base64.RawURLEncoding.EncodeToString([]byte(k))
		}
		return "/bare?after=" + k
	}
}

// closedLoop runs workers that each send the next request when the last
// answers, for d, and returns calls per second and the number of calls.
func closedLoop(client *loadClient, next func(*rand.Rand) string, workers int, d time.Duration) (float64, int64, error) {
	var n, fails atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 1))
			for time.Now().Before(deadline) {
				if err := client.get(next(rng)); err != nil {
					fails.Add(1)
					continue
				}
				n.Add(1)
			}
		}(uint64(w))
	}
	wg.Wait()
	if f := fails.Load(); f > 0 {
		return 0, f, fmt.Errorf("%d failed calls", f)
	}
	return float64(n.Load()) / time.Since(start).Seconds(), n.Load(), nil
}

// openLoopConns bounds the open loop's calls in flight, and is how many
// connections it opens before it starts.
const openLoopConns = 512

// openLoop offers rate calls per second for d (arrivals on a fixed
// schedule, independent of answers) and returns each call's latency,
// measured from its scheduled time so queueing counts.
func openLoop(client *loadClient, next func(*rand.Rand) string, rate float64, d time.Duration) (loadResult, error) {
	if err := client.warm(openLoopConns); err != nil {
		return loadResult{}, err
	}
	total := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	lat := make([]time.Duration, total)
	lag := make([]time.Duration, total)
	var fails atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, openLoopConns) // bounds in-flight calls
	rng := rand.New(rand.NewPCG(42, 42))
	start := time.Now()
	for i := 0; i < total; i++ {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		u := next(rng)
		sem <- struct{}{}
		wg.Add(1)
		go func(i int, at time.Time) {
			defer wg.Done()
			defer func() { <-sem }()
			lag[i] = time.Since(at)
			if err := client.get(u); err != nil {
				fails.Add(1)
			}
			lat[i] = time.Since(at)
		}(i, at)
	}
	wg.Wait()
	if f := fails.Load(); f > 0 {
		return loadResult{}, fmt.Errorf("%d failed calls", f)
	}
	return loadResult{Calls: int64(total), PerSec: float64(total) / time.Since(start).Seconds(), Latency: lat, Lag: lag}, nil
}
