// Package vl1 is ZeroTier's virtual layer 1 engine: it turns datagrams into
// authenticated packets between 40-bit addresses. It keeps peers and their
// physical paths, says HELLO, asks roots WHOIS, relays, introduces peers to
// each other (RENDEZVOUS) and punches holes through NATs, with the timers of
// ZeroTierOne 1.14.1 (spec vl1-peers.md, roots.md).
//
// A node whose identity is among its planet's or moons' roots acts as a
// root, as in 1.14.1: it relays for anyone and answers WHOIS without a rate
// limit.
//
// The engine does no I/O scheduling of its own in tests: Receive and Tick
// are called by whoever owns the clock — Run with the wall clock, or a
// deterministic harness with virtual time. Verbs VL1 does not own are handed
// to an Upper that this package defines; vl1 never imports VL2. It imports
// only the transport layer below it and its own sub-packages.
package vl1
