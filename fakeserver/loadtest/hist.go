package loadtest

import (
	"math/bits"
	"time"
)

// histogram records durations in log-linear buckets: exact below 128 ns,
// then 64 buckets per power of two (under 1.6% relative error). It keeps a
// fixed size whatever the run's length, so that a long run stays bounded.
type histogram struct {
	counts [64 * 64]uint64
	n      uint64
	sum    time.Duration
	max    time.Duration
}

const subBits = 6 // 64 sub-buckets per power of two

func bucketOf(ns uint64) int {
	if ns < 1<<(subBits+1) {
		return int(ns)
	}
	e := bits.Len64(ns) - (subBits + 1) // >= 1
	return (e+1)<<subBits + int(ns>>uint(e))&(1<<subBits-1)
}

// lowerBound is the smallest duration (ns) of bucket i.
func lowerBound(i int) uint64 {
	if i < 1<<(subBits+1) {
		return uint64(i)
	}
	e := i>>subBits - 1
	return (uint64(i&(1<<subBits-1)) | 1<<subBits) << uint(e)
}

func (h *histogram) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := bucketOf(uint64(d))
	if i >= len(h.counts) {
		i = len(h.counts) - 1
	}
	h.counts[i]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q <= 1): the midpoint of the bucket
// that holds it, never above the maximum seen.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo := lowerBound(i)
			hi := lowerBound(i + 1)
			return min(time.Duration((lo+hi)/2), h.max)
		}
	}
	return h.max
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}
