package node

import (
	"testing"
	"time"

	"github.com/ztgo/ztgo/layer1-vl1/world"
)

// TestFallbackOptions: local.conf's TCP fallback settings, and ZeroTier's
// relay only with ZeroTier's planet.
func TestFallbackOptions(t *testing.T) {
	yes, no, relay, ms := true, false, "198.18.4.2/443", 3000
	earth, private := world.Default(), &world.World{ID: 42}
	for _, c := range []struct {
		name  string
		s     Settings
		w     *world.World
		relay string
		force bool
		after time.Duration
		bond  bool
	}{
		{"earth default", Settings{}, earth, defaultTCPRelay, false, 0, false},
		{"private planet", Settings{}, private, "", false, 0, false},
		{"named relay", Settings{TcpFallbackRelay: &relay, TcpFallbackAfterMs: &ms}, private, relay, false, 3 * time.Second, false},
		{"disallowed", Settings{AllowTcpFallbackRelay: &no, TcpFallbackRelay: &relay, ForceTcpRelay: &yes}, earth, "", false, 0, false},
		{"forced", Settings{ForceTcpRelay: &yes}, earth, defaultTCPRelay, true, 0, false},
		{"forced without relay", Settings{ForceTcpRelay: &yes}, private, "", false, 0, false},
		// 1.14.1 turns the relay off when bonding is in use.
		{"bonding", Settings{TcpFallbackRelay: &relay}, earth, "", false, 0, true},
		{"bonding forced", Settings{ForceTcpRelay: &yes}, earth, "", false, 0, true},
	} {
		o := fallbackOptions(c.s, c.w, c.bond)
		if o.Relay != c.relay || o.Force != c.force || o.After != c.after || o.Major != 1 || o.Minor != 14 || o.Revision != 1 {
			t.Errorf("%s: %+v", c.name, o)
		}
	}
}
