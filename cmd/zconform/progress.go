package main

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"sync"
)

// isTerminal reports whether w is a terminal (a character device): the
// progress lines are on by default there, off in logs and pipes.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// dotLineFilter passes a suite's output through, line by line, without
// Ginkgo's line of progress marks (• for a pass, S for a skip, with their
// colours), which the progress lines replace. Every other line, failure
// reports included, passes whole.
type dotLineFilter struct {
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

// marksOnly matches a line made of Ginkgo's progress marks alone.
var marksOnly = regexp.MustCompile(`^(?:\x1b\[[0-9;]*m|[•SPF])+\r?$`)

func (f *dotLineFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buf = append(f.buf, p...)
	for {
		i := bytes.IndexByte(f.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := f.buf[:i+1]
		if !marksOnly.Match(line[:i]) {
			if _, err := f.w.Write(line); err != nil {
				return len(p), err
			}
		}
		f.buf = f.buf[i+1:]
	}
}

// Flush writes what is left without a final newline, unless it is marks.
func (f *dotLineFilter) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.buf) > 0 && !marksOnly.Match(f.buf) {
		_, _ = f.w.Write(f.buf)
	}
	f.buf = nil
}
