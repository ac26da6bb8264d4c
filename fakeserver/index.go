package fakeserver

// Indexes and queues of the housekeeping (sweep.go): structures whose cost
// per request does not grow with what the fake holds. None of them decides
// an answer; the rule code's maps (grants, refresh, access) do.

// queue is a FIFO queue in fixed-size chunks. The sweeps use it as a
// rotation: take the oldest item, keep it (push it back) or forget it. No
// push or pop moves more than one item, whatever the length: a slice that
// doubled would copy every item now and then, a stall at a million.
type queue[T any] struct {
	head, tail *queueChunk[T]
	hi, ti     int // the next item to pop in head, the next free slot in tail
	n          int
}

// queueChunkLen is how many items a chunk holds.
const queueChunkLen = 512

type queueChunk[T any] struct {
	items [queueChunkLen]T
	next  *queueChunk[T]
}

func (q *queue[T]) len() int { return q.n }

// push adds v as the newest item.
func (q *queue[T]) push(v T) {
	if q.tail == nil || q.ti == queueChunkLen {
		c := &queueChunk[T]{}
		if q.tail == nil {
			q.head, q.hi = c, 0
		} else {
			q.tail.next = c
		}
		q.tail, q.ti = c, 0
	}
	q.tail.items[q.ti] = v
	q.ti++
	q.n++
}

// pop removes and returns the oldest item; ok is false when the queue is
// empty.
func (q *queue[T]) pop() (v T, ok bool) {
	if q.n == 0 {
		return v, false
	}
	var zero T
	v, q.head.items[q.hi] = q.head.items[q.hi], zero // let the collector have it
	q.hi++
	q.n--
	switch {
	case q.n == 0: // drop the chunks: an idle queue holds nothing
		q.head, q.tail, q.hi, q.ti = nil, nil, 0, 0
	case q.hi == queueChunkLen:
		q.head, q.hi = q.head.next, 0
	}
	return v, true
}

// indexStandaloneLocked adds an access token without a refresh token to its
// user's index (for Tokens).
func (s *Server) indexStandaloneLocked(a *accessToken) {
	if s.standalone == nil {
		s.standalone = map[*user]map[*accessToken]struct{}{}
	}
	set := s.standalone[a.user]
	if set == nil {
		set = map[*accessToken]struct{}{}
		s.standalone[a.user] = set
	}
	set[a] = struct{}{}
}

// unindexStandaloneLocked removes a forgotten or revoked token from the
// index.
func (s *Server) unindexStandaloneLocked(a *accessToken) {
	set := s.standalone[a.user]
	delete(set, a)
	if len(set) == 0 {
		delete(s.standalone, a.user)
	}
}

// standaloneOfLocked lists the user's access tokens without a refresh token
// that the fake still knows (not revoked, not forgotten; maybe expired), in
// no order.
func (s *Server) standaloneOfLocked(u *user) []*accessToken {
	var out []*accessToken
	for a := range s.standalone[u] {
		if s.access[a.value] == a { // a revoked one waits here for the sweep
			out = append(out, a)
		}
	}
	return out
}
