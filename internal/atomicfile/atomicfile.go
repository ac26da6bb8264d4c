// Package atomicfile writes a file whole or not at all: a reader polling
// for it (a ready file, an archive another tool picks up) never sees it
// half written, and a failed write leaves nothing behind.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// Write writes path with write's output, mode 0644: into a temporary file
// beside it, renamed over path once complete. On any error the temporary
// file is removed and path is untouched.
func Write(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	err = write(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
