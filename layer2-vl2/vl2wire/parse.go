package vl2wire

import (
	"fmt"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Parse decodes the payload of one of the eight VL2 verbs (the bytes after
// the verb byte of a dearmored, decompressed packet). Other verbs give
// ErrNotVL2.
func Parse(verb wire.Verb, payload []byte) (wire.Message, error) {
	switch verb {
	case wire.VerbFRAME:
		return ParseFrame(payload)
	case wire.VerbEXT_FRAME:
		return ParseExtFrame(payload)
	case wire.VerbMULTICAST_LIKE:
		return ParseMulticastLike(payload)
	case wire.VerbNETWORK_CREDENTIALS:
		return ParseNetworkCredentials(payload)
	case wire.VerbNETWORK_CONFIG_REQUEST:
		return ParseNetworkConfigRequest(payload)
	case wire.VerbNETWORK_CONFIG:
		return ParseConfigChunk(payload)
	case wire.VerbMULTICAST_GATHER:
		return ParseMulticastGather(payload)
	case wire.VerbMULTICAST_FRAME:
		return ParseMulticastFrame(payload)
	}
	return nil, fmt.Errorf("%w: verb %v", ErrNotVL2, verb)
}

// ParseOKBody decodes the body of an OK (after in-re verb and packet ID)
// answering a VL2 verb: EXT_FRAME, NETWORK_CONFIG_REQUEST, NETWORK_CONFIG,
// MULTICAST_GATHER or MULTICAST_FRAME. The returned message's Verb is the
// in-re verb. Verbs that are never answered with an OK give ErrNotVL2; the
// acknowledgement of NETWORK_CONFIG that 1.14.1 sends in re ECHO can be
// decoded with ParseOKNetworkConfig.
func ParseOKBody(inReVerb wire.Verb, body []byte) (wire.Message, error) {
	switch inReVerb {
	case wire.VerbEXT_FRAME:
		return ParseOKExtFrame(body)
	case wire.VerbNETWORK_CONFIG_REQUEST:
		return ParseOKNetworkConfigRequest(body)
	case wire.VerbNETWORK_CONFIG:
		return ParseOKNetworkConfig(body)
	case wire.VerbMULTICAST_GATHER:
		return ParseOKMulticastGather(body)
	case wire.VerbMULTICAST_FRAME:
		return ParseOKMulticastFrame(body)
	}
	return nil, fmt.Errorf("%w: no OK body for %v", ErrNotVL2, inReVerb)
}
