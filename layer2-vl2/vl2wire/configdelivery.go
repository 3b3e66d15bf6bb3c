package vl2wire

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// MaxConfigChunk is the most dictionary bytes one config chunk carries, so
// that a chunk plus its header and signature fits in one 10024-byte packet
// before compression (vl2.md §2.8).
const MaxConfigChunk = MaxConfigChunkLength

// Config reassembly limits of the reference (vl2.md §2.8).
const (
	configAssemblySlots = 3
	maxChunksPerUpdate  = NetworkConfigCapacity/1024 + 1
)

// ErrChunkRejected is wrapped by ConfigAssembler.Add for chunks a receiver
// drops: bad bounds, wrong signature type or signer, a signature that does
// not verify, or a legacy chunk not from the controller.
var ErrChunkRejected = errors.New("config chunk rejected")

// ConfigChunks cuts a serialized config dictionary into signed chunks of at
// most MaxConfigChunk bytes, as Node::ncSendConfig does: one update ID for
// all, offsets into dict, flags 0. An updateID of 0 (which receivers could
// not tell from "none") is replaced by a random non-zero one. Chunk slices
// alias dict.
func ConfigChunks(nwid uint64, dict []byte, updateID uint64, controller *identity.Identity) ([]*ConfigChunk, error) {
	if len(dict) == 0 || len(dict) >= NetworkConfigCapacity {
		return nil, fmt.Errorf("config dictionary of %d bytes cannot be sent (want 1..%d)", len(dict), NetworkConfigCapacity-1)
	}
	for updateID == 0 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		updateID = binary.BigEndian.Uint64(b[:])
	}
	var out []*ConfigChunk
	for off := 0; off < len(dict); off += MaxConfigChunk {
		end := min(off+MaxConfigChunk, len(dict))
		c := &ConfigChunk{NetworkID: nwid, Chunk: dict[off:end:end], UpdateID: updateID,
			TotalLength: uint32(len(dict)), Offset: uint32(off)}
		if err := c.Sign(controller); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ConfigAssembler reassembles config dictionaries from chunks as
// Network::handleConfigChunk does: three slots keyed by update ID, the
// least recently used reused for a new update, duplicates (same chunk ID)
// dropped, and a dictionary complete when the bytes received add up to its
// total length. Like the reference it counts bytes rather than tracking
// ranges, so overlapping chunks are not detected. One assembler serves one
// network. Safe for concurrent use.
type ConfigAssembler struct {
	mu    sync.Mutex
	slots [configAssemblySlots]configSlot
	clock uint64
}

type configSlot struct {
	updateID uint64
	used     uint64 // clock value of the last chunk; 0 = never used
	total    uint32
	have     uint32
	done     bool
	ids      [][8]byte
	data     []byte
}

// NewConfigAssembler returns an empty assembler.
func NewConfigAssembler() *ConfigAssembler { return &ConfigAssembler{} }

func rejectChunk(format string, args ...any) ([]byte, bool, error) {
	return nil, false, fmt.Errorf("%w: %s", ErrChunkRejected, fmt.Sprintf(format, args...))
}

// Add takes one chunk from an OK(NETWORK_CONFIG_REQUEST) or NETWORK_CONFIG.
// Signed chunks must verify with controller, the identity of the chunk's
// network's controller (nil, i.e. unknown, rejects). Legacy chunks carry
// no signature and are accepted, whole, only when fromController says the
// packet came from the controller itself.
//
// done is true with the whole dictionary (a fresh copy) when this chunk
// completes an update; duplicates and chunks of an update already
// completed return nothing and no error. Rejected chunks wrap
// ErrChunkRejected.
func (a *ConfigAssembler) Add(c *ConfigChunk, controller *identity.Identity, fromController bool) (dict []byte, done bool, err error) {
	if c.Legacy {
		if !fromController {
			return rejectChunk("legacy chunk not sent by the controller")
		}
		if len(c.Chunk) >= NetworkConfigCapacity {
			return rejectChunk("legacy config of %d bytes", len(c.Chunk))
		}
		return append([]byte(nil), c.Chunk...), true, nil
	}
	switch {
	case uint64(c.Offset)+uint64(len(c.Chunk)) > uint64(c.TotalLength):
		return rejectChunk("bytes %d+%d beyond the total %d", c.Offset, len(c.Chunk), c.TotalLength)
	case c.TotalLength >= NetworkConfigCapacity:
		return rejectChunk("total length %d", c.TotalLength)
	case c.SignatureType != ConfigSignatureType:
		return rejectChunk("signature type %d", c.SignatureType)
	case controller == nil:
		return rejectChunk("controller identity unknown")
	case controller.Address() != ControllerOf(c.NetworkID):
		return rejectChunk("%v is not the controller of network %s", controller.Address(), NetworkIDString(c.NetworkID))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s, dup := a.slot(c)
	if dup {
		return nil, false, nil
	}
	if !c.Verify(controller) {
		return rejectChunk("signature does not verify")
	}
	a.clock++
	s.used = a.clock
	if s.updateID != c.UpdateID || s.data == nil {
		*s = configSlot{updateID: c.UpdateID, used: a.clock, total: c.TotalLength, data: make([]byte, c.TotalLength)}
	}
	switch {
	case s.done:
		return nil, false, nil
	case c.TotalLength != s.total:
		return rejectChunk("total length %d, earlier chunks of the update said %d", c.TotalLength, s.total)
	case len(s.ids) >= maxChunksPerUpdate:
		return rejectChunk("more than %d chunks in one update", maxChunksPerUpdate)
	}
	s.ids = append(s.ids, c.ChunkID())
	copy(s.data[c.Offset:], c.Chunk)
	s.have += uint32(len(c.Chunk))
	if s.have != s.total {
		return nil, false, nil
	}
	s.done = true
	out := s.data
	s.data = []byte{} // the caller owns out; keep the slot marked as in use
	return out, true, nil
}

// slot finds the slot of c's update, reporting a chunk already received,
// or else the least recently used slot.
func (a *ConfigAssembler) slot(c *ConfigChunk) (*configSlot, bool) {
	var lru *configSlot
	for i := range a.slots {
		s := &a.slots[i]
		if s.used != 0 && s.updateID == c.UpdateID {
			id := c.ChunkID()
			for _, have := range s.ids {
				if have == id {
					return s, true
				}
			}
			return s, false
		}
		if lru == nil || s.used < lru.used {
			lru = s
		}
	}
	return lru, false
}
