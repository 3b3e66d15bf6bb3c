package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer1-vl1/ztlayers"
)

// ErrNotCapture is returned for input that is neither pcap nor pcapng.
var ErrNotCapture = errors.New("not a pcap or pcapng capture")

// Options configure a Decoder.
type Options struct {
	// Identities are known nodes; those with secrets give keys.
	Identities []*identity.Identity
	// Ports are the UDP ports that carry ZeroTier (default 9993 only).
	Ports []uint16
}

// Decoder turns capture files into Records. It keeps state across files
// (learned identities, fragments), so several files of one session can be
// decoded in order. Not safe for concurrent use.
type Decoder struct {
	ports     map[uint16]bool
	secrets   map[identity.Address]*identity.Identity
	known     map[identity.Address]*identity.Identity
	validated map[string]error
	keys      map[[2]identity.Address]*wire.Keys
	flows     map[flowKey]*flowState
	start     time.Time
	started   bool
	sum       Summary

	// parser decodes each UDP payload into the ZeroTier layers below.
	parser  *gopacket.DecodingLayerParser
	cls     ztlayers.Classifier
	pkt     ztlayers.Packet
	frag    ztlayers.Fragment
	payload gopacket.Payload
	chunk   gopacket.Fragment
}

// flowKey separates reassembly per underlay direction: a root relays the
// pieces of a packet under the same packet ID, and both copies are captured.
type flowKey struct{ src, dst netip.AddrPort }

type flowState struct {
	r       *wire.Reassembler
	pieces  map[uint64][][]byte // datagrams of each pending packet, for conformance checks
	pending map[uint64]*Record  // the head's record, for incomplete packets
}

// NewDecoder returns a decoder for opts.
func NewDecoder(opts Options) *Decoder {
	d := &Decoder{
		ports:     map[uint16]bool{},
		secrets:   map[identity.Address]*identity.Identity{},
		known:     map[identity.Address]*identity.Identity{},
		validated: map[string]error{},
		keys:      map[[2]identity.Address]*wire.Keys{},
		flows:     map[flowKey]*flowState{},
		sum:       Summary{Verbs: map[string]int{}},
	}
	d.parser = gopacket.NewDecodingLayerParser(ztlayers.LayerTypeZeroTier, &d.cls, &d.pkt, &d.frag, &d.payload, &d.chunk)
	d.parser.IgnoreUnsupported = true // a clear-text envelope is decoded after its MAC
	ports := opts.Ports
	if len(ports) == 0 {
		ports = []uint16{wire.DefaultPort}
	}
	for _, p := range ports {
		d.ports[p] = true
	}
	for _, id := range opts.Identities {
		d.learn(id)
		if id.HasSecret() {
			d.secrets[id.Address()] = id
		}
	}
	return d
}

// Summary returns the counts so far.
func (d *Decoder) Summary() Summary { return d.sum }

// DecodeFile reads one capture and calls emit for every record, in order.
func (d *Decoder) DecodeFile(name string, r io.Reader, emit func(*Record)) error {
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err != nil {
		return fmt.Errorf("%s: %w", name, ErrNotCapture)
	}
	var src interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var link layers.LinkType
	if binary.LittleEndian.Uint32(magic) == 0x0a0d0d0a {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return fmt.Errorf("%s: %w: %v", name, ErrNotCapture, err)
		}
		src, link = ng, ng.LinkType()
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: %w: %v", name, ErrNotCapture, err)
		}
		src, link = pr, pr.LinkType()
	}
	for frame := 1; ; frame++ {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: frame %d: %w", name, frame, err)
		}
		if !d.started {
			d.start, d.started = ci.Timestamp, true
		}
		d.frame(&Record{File: name, Frame: frame, Time: ci.Timestamp, Rel: ci.Timestamp.Sub(d.start)}, link, data, emit)
	}
}

// Finish reports packets whose fragments never all arrived.
func (d *Decoder) Finish(emit func(*Record)) {
	for _, fs := range d.flows {
		for _, rec := range fs.pending {
			inc := *rec
			inc.Kind, inc.Text = KindIncomplete, "fragments missing at end of capture"
			emit(&inc)
		}
		clear(fs.pending)
	}
}

func (d *Decoder) frame(rec *Record, link layers.LinkType, data []byte, emit func(*Record)) {
	pkt := gopacket.NewPacket(data, link, gopacket.DecodeOptions{NoCopy: true})
	udp, _ := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if udp == nil || !(d.ports[uint16(udp.SrcPort)] || d.ports[uint16(udp.DstPort)]) {
		d.other(rec, pkt, emit)
		return
	}
	var srcIP, dstIP netip.Addr
	if nl := pkt.NetworkLayer(); nl != nil {
		srcIP, _ = netip.AddrFromSlice(nl.NetworkFlow().Src().Raw())
		dstIP, _ = netip.AddrFromSlice(nl.NetworkFlow().Dst().Raw())
	}
	rec.UDPSource = netip.AddrPortFrom(srcIP.Unmap(), uint16(udp.SrcPort))
	rec.UDPDest = netip.AddrPortFrom(dstIP.Unmap(), uint16(udp.DstPort))
	payload := udp.Payload
	rec.Length = len(payload)

	// The ZeroTier layers say what the datagram is and decode its header.
	var decoded []gopacket.LayerType
	_ = d.parser.DecodeLayers(payload, &decoded) // a short datagram is a Payload
	switch {
	case slices.Contains(decoded, ztlayers.LayerTypeZeroTierFragment):
		d.fragment(rec, &d.frag, payload, emit)
	case slices.Contains(decoded, ztlayers.LayerTypeZeroTierPacket):
		if d.pkt.Fragmented {
			d.head(rec, &d.pkt, payload, emit)
			return
		}
		rec.Kind = KindPacket
		d.packet(rec, bytes.Clone(payload), [][]byte{bytes.Clone(payload)})
		emit(rec)
	default:
		rec.Note = fmt.Sprintf("%d-byte datagram (not a ZeroTier packet)", len(payload))
		if len(payload) == 13 {
			rec.Note = "legacy LAN beacon"
		} else if len(payload) <= 4 {
			rec.Note = "hole-punch probe"
		}
		d.otherCounted(rec, emit)
	}
}

func (d *Decoder) other(rec *Record, pkt gopacket.Packet, emit func(*Record)) {
	rec.Note = "not ZeroTier"
	if ls := pkt.Layers(); len(ls) > 0 {
		top := ls[len(ls)-1].LayerType()
		if top == gopacket.LayerTypePayload && len(ls) > 1 {
			top = ls[len(ls)-2].LayerType()
		}
		rec.Note = top.String()
	}
	d.otherCounted(rec, emit)
}

func (d *Decoder) otherCounted(rec *Record, emit func(*Record)) {
	rec.Kind = KindOther
	d.sum.Other++
	emit(rec)
}

func (d *Decoder) flow(rec *Record) *flowState {
	k := flowKey{rec.UDPSource, rec.UDPDest}
	fs := d.flows[k]
	if fs == nil {
		fs = &flowState{r: wire.NewReassembler(wire.DefaultReassemblySlots), pieces: map[uint64][][]byte{}, pending: map[uint64]*Record{}}
		d.flows[k] = fs
	}
	return fs
}

func (d *Decoder) head(rec *Record, h *ztlayers.Packet, datagram []byte, emit func(*Record)) {
	rec.Kind = KindHead
	header(rec, h)
	rec.Text = "head of a fragmented packet"
	fs := d.flow(rec)
	fs.remember(rec, datagram)
	emit(rec)
	if whole, ok := fs.r.AddHead(nil, wire.Packet(datagram)); ok {
		d.reassembled(rec, fs, whole, emit)
	}
	d.prune(fs, emit)
}

// header copies a packet header's fields to rec.
func header(rec *Record, h *ztlayers.Packet) {
	rec.Source, rec.Destination, rec.PacketID = h.Source, h.Destination, h.PacketID
	rec.Hops, rec.Cipher = int(h.Hops), h.Cipher
}

func (d *Decoder) fragment(rec *Record, f *ztlayers.Fragment, datagram []byte, emit func(*Record)) {
	rec.Kind = KindFragment
	d.sum.Fragments++
	if !f.Valid() {
		rec.Err = fmt.Sprintf("%v: fragment %d of %d", wire.ErrBadFragment, f.Number, f.Total)
		emit(rec)
		return
	}
	rec.Destination, rec.PacketID = f.Destination, f.PacketID
	rec.FragmentNumber, rec.FragmentTotal, rec.Hops = int(f.Number), int(f.Total), int(f.Hops&7)
	fs := d.flow(rec)
	fs.remember(rec, datagram)
	emit(rec)
	if whole, ok := fs.r.AddFragment(nil, wire.Fragment(datagram)); ok {
		d.reassembled(rec, fs, whole, emit)
	}
	d.prune(fs, emit)
}

// remember keeps a piece's datagram and the first record of its packet.
func (fs *flowState) remember(rec *Record, datagram []byte) {
	fs.pieces[rec.PacketID] = append(fs.pieces[rec.PacketID], bytes.Clone(datagram))
	if fs.pending[rec.PacketID] == nil {
		first := *rec
		fs.pending[rec.PacketID] = &first
	}
}

// prune reports packets the reassembler has evicted (as 1.14.1 would have)
// so that bookkeeping stays bounded on long captures.
func (d *Decoder) prune(fs *flowState, emit func(*Record)) {
	if len(fs.pending) <= 2*wire.DefaultReassemblySlots {
		return
	}
	live := map[uint64]bool{}
	for _, id := range fs.r.Pending() {
		live[id] = true
	}
	for id, rec := range fs.pending {
		if !live[id] {
			inc := *rec
			inc.Kind, inc.Text = KindIncomplete, "evicted before all fragments arrived"
			emit(&inc)
			delete(fs.pending, id)
			delete(fs.pieces, id)
		}
	}
}

func (d *Decoder) reassembled(last *Record, fs *flowState, whole wire.Packet, emit func(*Record)) {
	id := whole.ID()
	rec := &Record{
		File: last.File, Frame: last.Frame, Time: last.Time, Rel: last.Rel,
		UDPSource: last.UDPSource, UDPDest: last.UDPDest, Length: len(whole), Kind: KindReassembled,
	}
	datagrams := fs.pieces[id]
	delete(fs.pieces, id)
	delete(fs.pending, id)
	d.packet(rec, whole, datagrams)
	emit(rec)
}
