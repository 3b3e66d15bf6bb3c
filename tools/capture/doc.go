// Package capture decodes ZeroTier traffic in pcap and pcapng files: it
// reassembles fragments, authenticates and decrypts every packet whose key
// can be derived from the identities it is given (or learns from HELLO and
// WHOIS), and describes each verb down to the Ethernet frames inside FRAME.
//
// The bytes are parsed by gopacket layers: ztlayers for datagrams,
// fragments, packet headers and envelopes, vl2layers for VL2 payloads and
// gopacket's own for the Ethernet frames inside. This package adds what
// needs state or keys: reassembly, dearmoring, learning identities, and
// the text and JSON output.
//
// It is the engine of `ztdump` and ztgo's conformance harness against
// captures of ZeroTierOne. As a tool it may import any layer.
package capture
