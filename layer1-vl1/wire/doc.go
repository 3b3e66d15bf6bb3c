// Package wire is ZeroTier's VL1 wire format with no state: the packet header
// and its flag byte, armoring for every cipher suite, compression,
// fragmentation and reassembly, InetAddress, and the layout of every VL1 verb
// (VL2 verbs as their network ID and the rest).
//
// Decoders never panic on hostile input: every length is checked and errors
// say what was short. It imports identity, lz4 and ztcrypto from this module
// and nothing above VL1 (spec vl1.md §4–7, vl1-crypto.md §5–6).
package wire
