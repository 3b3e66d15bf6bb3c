// Package vl2wire is VL2's wire codecs: the payload layout of every virtual
// Ethernet verb (FRAME, EXT_FRAME, MULTICAST_LIKE, NETWORK_CREDENTIALS,
// NETWORK_CONFIG_REQUEST, NETWORK_CONFIG, MULTICAST_GATHER, MULTICAST_FRAME),
// the OK and ERROR bodies that answer them, MACs and multicast groups derived
// from ZeroTier addresses, certificates of membership and the Dictionary text
// format, with no state.
//
// Every decoder is bounds-checked, never panics on hostile input and wraps
// ErrMalformed with what was short and where. Re-encoding a decoded value
// gives back the bytes it came from. The package imports only layer1-vl1
// packages (wire, identity) from this module and must never import anything
// from layer2-vl2 or above (spec vl2.md §1–4).
package vl2wire
