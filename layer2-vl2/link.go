package vl2

import (
	"time"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Link is what VL2 needs from the VL1 engine below it; *vl1.Node satisfies
// it. VL2 names the behaviour it depends on so that it can run on anything
// that provides it (a fake in tests). The other direction is vl1.Upper,
// which the Switch implements; whoever makes both wires them (package node,
// vl2test): vl2.New has no side effects on the link.
//
// Frames read from a device in batches go out through a *vl1.TxBatch the
// caller makes (Network.HandleFrames); everything else goes through Send.
type Link interface {
	// Address and Identity are this node's (the identity with its secret,
	// for signing configs the local controller issues).
	Address() identity.Address
	Identity() *identity.Identity
	// Now is the engine's clock (virtual in the harness).
	Now() time.Time
	// Send sends verb and payload to dst, compressed where it helps when
	// compress is set, and returns the packet's wire ID (0 when queued
	// behind a WHOIS). payload is not kept after the call.
	Send(dst identity.Address, verb wire.Verb, payload []byte, compress bool) (uint64, error)
	// PeerIdentity returns a known peer's identity (this node's public one
	// for its own address), or nil; RequestWhois then asks the roots.
	PeerIdentity(a identity.Address) *identity.Identity
	RequestWhois(a identity.Address)
	// IsRoot reports whether this node is a root of its worlds: roots keep
	// the multicast directory for networks they are not in.
	IsRoot() bool
	// Upstreams are the roots of the planet and orbited moons (not this
	// node); BestUpstream is the one currently used (0 if none).
	Upstreams() []identity.Address
	BestUpstream() identity.Address
}
