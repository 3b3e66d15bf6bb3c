package ztlayers

import "testing"

// FuzzDecode feeds arbitrary bytes to every decoding entry point — as a
// datagram (LayerTypeZeroTier), as an envelope (LayerTypeZeroTierVerb), as
// a dearmored packet (DearmoredDecoder) and through DecodingLayerParsers —
// with gopacket's panic recovery off. Nothing may panic, and whatever the
// ZeroTier layers decode must serialize back to the same bytes. Seeds are
// in testdata/fuzz/FuzzDecode: the spec vectors' datagrams, envelopes and
// plaintext packets, and hand-built FRAME, EXT_FRAME and MULTICAST_FRAME.
func FuzzDecode(f *testing.F) {
	f.Fuzz(checkDecode)
}
