package fetch

import (
	"context"
	"sync"
)

// Group coalesces concurrent calls that share a key: while a call for a
// key is running, another Do with that key waits for its result instead
// of starting a second one. The zero Group is ready to use; a Group must
// not be copied after first use.
//
// Unlike a plain singleflight, the shared call does not run on the first
// caller's context, which would make every other caller fail when the
// first one gives up: it runs on a context that keeps the first caller's
// values and ends when every caller waiting for it has gone.
type Group[T any] struct {
	mu    sync.Mutex
	calls map[string]*call[T]
}

type call[T any] struct {
	done    chan struct{} // closed once val and err are set
	val     T
	err     error
	waiters int // callers still waiting; guarded by Group.mu
	cancel  context.CancelFunc
}

// Do returns the result of fn for key, running fn unless a call for key is
// already running, in which case it waits for that call. Every caller
// waiting for one call receives the same value: a T that callers may
// modify must be copied by each. A caller whose ctx ends stops waiting
// and gets ctx.Err(); the call itself goes on as long as another caller
// waits for it.
func (g *Group[T]) Do(ctx context.Context, key string, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[string]*call[T]{}
	}
	c, ok := g.calls[key]
	if !ok {
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call[T]{done: make(chan struct{}), cancel: cancel}
		g.calls[key] = c
		go g.run(cctx, key, c, fn)
	}
	c.waiters++
	g.mu.Unlock()

	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		g.mu.Lock()
		c.waiters--
		if c.waiters == 0 {
			// Nobody is left to use the result: stop the call, and let
			// the next caller start afresh rather than join a call that
			// is being cancelled.
			c.cancel()
			if g.calls[key] == c {
				delete(g.calls, key)
			}
		}
		g.mu.Unlock()
		return zero, ctx.Err()
	}
}

func (g *Group[T]) run(ctx context.Context, key string, c *call[T], fn func(context.Context) (T, error)) {
	defer c.cancel()
	c.val, c.err = fn(ctx)
	// Forget the call before releasing its waiters: a caller that arrives
	// after this starts a new call (and, for a cache miss, finds the cache
	// that fn filled).
	g.mu.Lock()
	if g.calls[key] == c {
		delete(g.calls, key)
	}
	g.mu.Unlock()
	close(c.done)
}
