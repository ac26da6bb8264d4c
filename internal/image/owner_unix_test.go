//go:build unix

package image

import (
	"os"
	"syscall"
)

// ownerOf is a file's owner, where the system says.
func ownerOf(fi os.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
