package gate

import (
	"context"
	"sync"
	"time"

	"shuqiao/internal/catalog"
	"shuqiao/internal/clock"
	"shuqiao/internal/identity"
)

// CatalogResources looks entries up in the catalog as the public sees them
// (published entries only), caching each for ttl so the hot path does not
// read the catalog on every call. A withdrawal or a new version takes
// effect within ttl (default 2s).
func CatalogResources(c *catalog.Service, clk clock.Clock, ttl time.Duration) Resources {
	if ttl <= 0 {
		ttl = 2 * time.Second
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &cachedResources{get: func(ctx context.Context, id string) (*catalog.Resource, error) {
		return c.Get(ctx, identity.Principal{}, id)
	}, clock: clk, ttl: ttl, m: map[string]cachedResource{}}
}

type cachedResources struct {
	get   func(ctx context.Context, id string) (*catalog.Resource, error)
	clock clock.Clock
	ttl   time.Duration
	mu    sync.Mutex
	m     map[string]cachedResource
}

type cachedResource struct {
	r  *catalog.Resource
	at time.Time
}

func (c *cachedResources) Resource(ctx context.Context, id string) (*catalog.Resource, error) {
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl && now.Sub(e.at) >= 0 {
		return e.r, nil
	}
	r, err := c.get(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) > 10_000 {
		c.m = map[string]cachedResource{}
	}
	c.m[id] = cachedResource{r: r, at: now}
	c.mu.Unlock()
	return r, nil
}
