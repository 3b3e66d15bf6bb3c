package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// isLiteralIdentity is zerotier-idtool's rule for an <identity> argument:
// longer than 32 characters with ':' after the 10-digit address is the
// identity itself, anything else names a file.
func isLiteralIdentity(arg string) bool {
	return len(arg) > 32 && arg[10] == ':'
}

// identityLabel names an <identity> argument in error messages; a literal
// is too long to repeat.
func identityLabel(arg string) string {
	if isLiteralIdentity(arg) {
		return "literal identity " + arg[:10]
	}
	return arg
}

// loadIdentity reads an <identity> argument. It does not run the proof of
// work: only validate needs that, and it costs a memory-hard hash.
func loadIdentity(arg string) (*identity.Identity, error) {
	text := arg
	if !isLiteralIdentity(arg) {
		b, err := readFile(arg)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(string(b)) == "" {
			return nil, fmt.Errorf("%s: file is empty (want an identity.secret or identity.public file)", arg)
		}
		text = string(b)
	}
	id, err := identity.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", identityLabel(arg), err)
	}
	return id, nil
}

// readFile reads name, reporting failures as "<name>: <reason>".
func readFile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, withoutPath(err))
	}
	return b, nil
}

// withoutPath drops the "open <name>:" that os puts in front of its errors,
// for callers that name the file themselves.
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// writeFileAtomic replaces name with data so that readers see the old file
// or the new one, never a torn one, and a crash leaves no half-written
// secret. The temporary file is created 0600, so a secret is never readable
// by others even for a moment.
func writeFileAtomic(name string, data []byte, perm fs.FileMode) (err error) {
	f, err := createTempFor(name)
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

// checkWritable fails early when name's directory cannot take a new file,
// so that a long vanity search is not lost at the end.
func checkWritable(name string) error {
	f, err := createTempFor(name)
	if err != nil {
		return err
	}
	_ = f.Close()
	return os.Remove(f.Name())
}

// createTempFor creates a hidden temporary file next to name, mode 0600;
// beside it, so that the rename stays within one file system.
func createTempFor(name string) (*os.File, error) {
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
