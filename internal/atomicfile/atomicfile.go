// Package atomicfile writes state files so that a crash or a concurrent
// reader never sees half of one: write a temporary file beside it, fsync,
// rename, fsync the directory.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces name with data so that readers see the old file
// or the new one, never a torn one, and a crash leaves no half-written
// secret. The temporary file is created 0600, so a secret is never readable
// by others even for a moment.
func WriteFile(name string, data []byte, perm fs.FileMode) (err error) {
	f, err := CreateTempFor(name)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			err = fmt.Errorf("cannot write %s: %w", name, withoutPath(err))
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), name); err != nil {
		return err
	}
	syncDir(filepath.Dir(name))
	return nil
}

// CreateTempFor creates a hidden temporary file next to name, mode 0600;
// beside it, so that the rename stays within one file system.
func CreateTempFor(name string) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("cannot write %s: %w", name, withoutPath(err))
	}
	return f, nil
}

// syncDir makes a rename durable. Some systems cannot sync a directory; the
// data itself is already on disk then, so failure is ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// withoutPath drops the "open <name>:" os puts in front of its errors; the
// callers name the file themselves.
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
