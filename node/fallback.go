package node

import (
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/world"
)

// defaultTCPRelay is ZeroTier, Inc.'s relay (vl1-peers.md §11.1); ztgo uses
// it only with the public planet — a private deployment names its own.
const defaultTCPRelay = "204.80.128.1/443"

// fallbackOptions reads local.conf's TCP fallback settings; the decision
// of when to use the relay is transport.Fallback's. With bonding in use
// there is no relay, as in 1.14.1 (OneService::applyLocalConfig: a relay
// is one path that would carry every link's traffic).
func fallbackOptions(s Settings, planet *world.World, bonding bool) transport.FallbackOptions {
	o := transport.FallbackOptions{
		Major: vl1.CompatVersion.Major, Minor: vl1.CompatVersion.Minor, Revision: vl1.CompatVersion.Revision,
	}
	if boolOr(s.AllowTcpFallbackRelay, true) && !bonding {
		if s.TcpFallbackRelay != nil {
			o.Relay = *s.TcpFallbackRelay
		} else if planet.ID == world.EarthID {
			o.Relay = defaultTCPRelay
		}
	}
	o.Force = o.Relay != "" && boolOr(s.ForceTcpRelay, false)
	if s.TcpFallbackAfterMs != nil && *s.TcpFallbackAfterMs > 0 {
		o.After = time.Duration(*s.TcpFallbackAfterMs) * time.Millisecond
	}
	return o
}
