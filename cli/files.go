package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/ztgo/ztgo/internal/atomicfile"
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

// writeFileAtomic: see package atomicfile.
func writeFileAtomic(name string, data []byte, perm fs.FileMode) error {
	return atomicfile.WriteFile(name, data, perm)
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

func createTempFor(name string) (*os.File, error) { return atomicfile.CreateTempFor(name) }
