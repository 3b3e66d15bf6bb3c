package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/ztgo/ztgo/internal/atomicfile"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// networkStore keeps networks.d/<nwid>.conf as zerotier-one does: the
// config dictionary, or a single "\n" before the first config.
type networkStore struct{ home Home }

func (s networkStore) path(nwid uint64) string {
	return s.home.path("networks.d", vl2wire.NetworkIDString(nwid)+".conf")
}

func (s networkStore) LoadConfig(nwid uint64) ([]byte, bool) {
	b, err := os.ReadFile(s.path(nwid))
	return b, err == nil
}

func (s networkStore) SaveConfig(nwid uint64, dict []byte) error {
	if err := os.MkdirAll(s.home.path("networks.d"), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(s.path(nwid), dict, 0o600)
}

func (s networkStore) DeleteConfig(nwid uint64) error {
	for _, p := range []string{s.path(nwid), s.home.path("networks.d", vl2wire.NetworkIDString(nwid)+".local.conf")} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// joined lists the networks with a networks.d/<16 hex>.conf file.
func (s networkStore) joined() []uint64 {
	ents, _ := os.ReadDir(s.home.path("networks.d"))
	var out []uint64
	for _, e := range ents {
		name := e.Name()
		if len(name) != 21 || !strings.HasSuffix(name, ".conf") {
			continue
		}
		if id, err := vl2wire.ParseNetworkID(name[:16]); err == nil {
			out = append(out, id)
		}
	}
	return out
}

func parseNWID(s string) (uint64, error) {
	if len(s) != 16 {
		return 0, fmt.Errorf("network ID %q: want 16 hex digits", s)
	}
	return vl2wire.ParseNetworkID(strings.ToLower(s))
}
