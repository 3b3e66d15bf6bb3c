package vl2

import (
	"net/netip"
	"testing"

	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// TestConfigChanged: the controller's refresh every 60 s re-signs the same
// config; only a change is logged at info.
func TestConfigChanged(t *testing.T) {
	a := &vl2wire.NetworkConfig{Revision: 3, Timestamp: 1, Name: "n", StaticIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24")}}
	refreshed := *a
	refreshed.Timestamp = 60001
	refreshed.COM = &vl2wire.COM{}
	moved := *a
	moved.StaticIPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}
	bumped := *a
	bumped.Revision = 4
	if !configChanged(nil, a) || configChanged(a, &refreshed) || !configChanged(a, &moved) || !configChanged(a, &bumped) {
		t.Fatal("configChanged")
	}
}
