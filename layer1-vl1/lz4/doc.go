// Package lz4 is the raw LZ4 block format ZeroTier compresses packet
// payloads with: no frame, no size prefix, no checksum.
//
// CompressBlock produces exactly the bytes LZ4 1.7.5 (the copy embedded in
// ZeroTierOne 1.14.1) produces with acceleration 1 for inputs under 64 KiB,
// so a captured packet can be re-encoded byte for byte. It imports nothing
// from this module.
package lz4
