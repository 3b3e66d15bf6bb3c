package capture

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// maxIdentityFile bounds what is read from a candidate file: identity strings
// are 270 bytes, so anything much larger is something else.
const maxIdentityFile = 4096

// LoadIdentities reads every identity in path: a file, or the files of a
// directory whose content is an identity string (others, such as JSON or
// captures, are skipped). It fails if a file cannot be read, if a single named
// file is not an identity, or if no identity with a secret is found.
func LoadIdentities(path string) ([]*identity.Identity, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		id, err := readIdentityFile(path)
		if err != nil {
			return nil, err
		}
		if id == nil {
			return nil, fmt.Errorf("%s: not an identity file", path)
		}
		if !id.HasSecret() {
			return nil, fmt.Errorf("%s: identity has no secret part", path)
		}
		return []*identity.Identity{id}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var ids []*identity.Identity
	secrets := 0
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		id, err := readIdentityFile(filepath.Join(path, e.Name()))
		if err != nil {
			return nil, err
		}
		if id != nil {
			ids = append(ids, id)
			if id.HasSecret() {
				secrets++
			}
		}
	}
	if secrets == 0 {
		return nil, fmt.Errorf("%s: no identity with a secret part found (expected files like identity.secret)", path)
	}
	return ids, nil
}

// readIdentityFile returns nil, nil for a readable file that is not an
// identity string; a file that looks like one but does not parse is an error.
func readIdentityFile(path string) (*identity.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIdentityFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxIdentityFile {
		return nil, nil
	}
	text := strings.TrimSpace(string(data))
	if !looksLikeIdentity(text) {
		return nil, nil
	}
	id, err := identity.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return id, nil
}

// looksLikeIdentity reports whether text starts like `0123456789:0:`.
func looksLikeIdentity(text string) bool {
	if len(text) < 13 || text[10:13] != ":0:" {
		return false
	}
	for _, c := range text[:10] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
