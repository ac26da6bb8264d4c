package fakeserver

import (
	"errors"
	"sync"
	"time"
)

// Clock is a server's notion of now. A virtual clock stands still until a
// test advances it; a real clock follows the wall clock and cannot be moved.
type Clock struct {
	mu      sync.Mutex
	virtual bool
	now     time.Time
}

// ErrRealClock is returned when a real clock is asked to move.
var ErrRealClock = errors.New("the server runs on the real clock, which cannot be moved: start it without the real-clock option to control time")

// clockEnd is as far as a virtual clock goes: its times, and the expiries of
// tokens issued then (at most 292 years on, time.Duration's range), must
// stay within RFC 3339's years, which end at 9999.
var clockEnd = time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)

var errClockEnd = errors.New("the virtual clock stops at " + clockEnd.Format(time.RFC3339) +
	": later times, and the expiries of the tokens issued then, cannot be written in RFC 3339 (years end at 9999)")

func newVirtualClock(start time.Time) *Clock { return &Clock{virtual: true, now: start} }

// Now returns the current (virtual or real) time.
func (c *Clock) Now() time.Time {
	if !c.virtual {
		return time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Virtual reports whether the clock is virtual.
func (c *Clock) Virtual() bool { return c.virtual }

// Advance moves a virtual clock forward by d. It never sleeps.
func (c *Clock) Advance(d time.Duration) error {
	if !c.virtual {
		return ErrRealClock
	}
	if d < 0 {
		return errors.New("the clock only moves forward: pass a positive duration")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.Add(d).After(clockEnd) {
		return errClockEnd
	}
	c.now = c.now.Add(d)
	return nil
}

// Set moves a virtual clock to t, which must not be in its past.
func (c *Clock) Set(t time.Time) error {
	if !c.virtual {
		return ErrRealClock
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.Before(c.now) {
		return errors.New("the clock only moves forward: " + t.Format(time.RFC3339) + " is before " + c.now.Format(time.RFC3339))
	}
	if t.After(clockEnd) {
		return errClockEnd
	}
	c.now = t
	return nil
}
