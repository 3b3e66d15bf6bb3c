// Package bond is ZeroTierOne 1.14's multipath bonding for one peer, without
// the engine around it: which of the peer's physical paths carry traffic
// under the five policies (active-backup, broadcast, balance-rr,
// balance-xor, balance-aware), how each path's quality is measured from
// QOS_MEASUREMENT replies, and when QOS_MEASUREMENT and ECHO heartbeats
// are due. Settings come from local.conf (ParseSettings). See
// spec/multipath.md for the facts and the tests that prove them.
//
// The engine (layer1-vl1) drives a Bond:
//
//	b := bond.New(cfg.TemplateFor(peer), peer, self, seed)
//	i, _ := b.AddPath(now, bond.PathKey{Link: "eth0", Socket: s, Remote: ap})
//	b.Received(now, i, packetID, verb, payloadLen, flow) // every authenticated packet on the path
//	b.Sent(now, i, packetID, verb, payloadLen, flow)     // every packet sent on the path
//	paths = b.Pick(now, verb, flow, paths[:0])           // where to send; none = "not ready, choose as usual"
//	acts = b.Tick(now, acts[:0])                         // every timer tick: ECHO / QOS_MEASUREMENT to send
//	b.ReceivedQoS(now, i, payload)                       // a QOS_MEASUREMENT arrived on path i
//
// Time is the caller's: every method takes now in milliseconds and none
// reads a clock, starts a goroutine or sleeps.
//
// Concurrency: a Bond is not safe for concurrent use and holds no lock.
// The caller serializes every call on one Bond (one mutex per peer, or the
// peer's single owner goroutine). Pick, Sent and Received allocate nothing
// and do a bounded amount of work (at most MaxPaths paths), so holding a
// per-peer lock across them is cheap. Config is immutable after
// ParseSettings and may be shared.
//
// It imports only the standard library and layer1-vl1/wire, so that
// layer1-vl1 can import it.
package bond
