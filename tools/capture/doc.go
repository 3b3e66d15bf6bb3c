// Package capture decodes ZeroTier traffic in pcap and pcapng files: it
// reassembles fragments, authenticates and decrypts every packet whose key
// can be derived from the identities it is given (or learns from HELLO and
// WHOIS), and describes each verb down to the Ethernet frames inside FRAME.
//
// It is the engine of `ztdump` and ztgo's conformance harness against
// captures of ZeroTierOne. As a tool it may import any layer.
package capture
