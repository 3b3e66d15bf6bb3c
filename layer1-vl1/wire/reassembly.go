package wire

// DefaultReassemblySlots is ZT_RX_QUEUE_SIZE: how many packets 1.14.1 keeps
// in reassembly at once.
const DefaultReassemblySlots = 32

// Reassembler puts fragmented packets back together (vl1.md §5.2). Like
// 1.14.1 it keeps a ring of slots keyed by packet ID: a piece of an unknown
// packet takes the oldest slot, so incomplete packets are evicted by later
// traffic rather than by a timer. Duplicate pieces are ignored. Unlike 1.14.1
// it refuses fragment numbers at or above the announced total, and pieces
// that disagree about the total.
//
// A Reassembler is not safe for concurrent use. Its buffers are reused, so
// it does not allocate once warm.
type Reassembler struct {
	slots []reassemblySlot
	next  int
}

type reassemblySlot struct {
	id     uint64
	used   bool
	have   uint8 // bit 0 = head, bit n = fragment n
	total  int   // 0 until a fragment says
	pieces [MaxPacketFragments][]byte
}

// NewReassembler returns a reassembler with n slots (DefaultReassemblySlots
// when n <= 0).
func NewReassembler(n int) *Reassembler {
	if n <= 0 {
		n = DefaultReassemblySlots
	}
	return &Reassembler{slots: make([]reassemblySlot, n)}
}

// AddHead offers the head of a fragmented packet (a datagram with
// FlagFragmented set). When it completes a packet, the whole packet is
// appended to dst and returned (the appended part only) with ok set.
func (r *Reassembler) AddHead(dst []byte, head Packet) (Packet, bool) {
	if !head.Valid() {
		return nil, false
	}
	return r.add(dst, head.ID(), 0, 0, head)
}

// AddFragment offers a fragment; see AddHead.
func (r *Reassembler) AddFragment(dst []byte, f Fragment) (Packet, bool) {
	return r.add(dst, f.PacketID(), f.Number(), f.Total(), f.Payload())
}

func (r *Reassembler) add(dst []byte, id uint64, number, total int, piece []byte) (Packet, bool) {
	s := r.slot(id)
	if total != 0 {
		if s.total != 0 && s.total != total {
			return nil, false
		}
		if number >= total {
			return nil, false
		}
		s.total = total
	}
	bit := uint8(1) << number
	if s.have&bit != 0 {
		return nil, false
	}
	s.have |= bit
	s.pieces[number] = append(s.pieces[number][:0], piece...)
	if s.total == 0 || s.have != uint8(1)<<s.total-1 {
		return nil, false
	}
	s.used = false
	n := 0
	for i := 0; i < s.total; i++ {
		n += len(s.pieces[i])
	}
	if n > MaxPacketLength {
		return nil, false // 1.14.1's buffer would overflow: dropped there too
	}
	start := len(dst)
	for i := 0; i < s.total; i++ {
		dst = append(dst, s.pieces[i]...)
	}
	return Packet(dst[start:]), true
}

// slot returns the slot holding id, or recycles the oldest one for it.
func (r *Reassembler) slot(id uint64) *reassemblySlot {
	for i := range r.slots {
		if s := &r.slots[i]; s.used && s.id == id {
			return s
		}
	}
	s := &r.slots[r.next]
	r.next = (r.next + 1) % len(r.slots)
	s.id, s.used, s.have, s.total = id, true, 0, 0
	return s
}

// Pending returns the IDs of packets still waiting for pieces.
func (r *Reassembler) Pending() []uint64 {
	var ids []uint64
	for i := range r.slots {
		if r.slots[i].used {
			ids = append(ids, r.slots[i].id)
		}
	}
	return ids
}
