package capture

import (
	"net/netip"
	"time"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Kinds of record.
const (
	KindPacket      = "packet"      // a whole packet in one datagram
	KindHead        = "head"        // first datagram of a fragmented packet
	KindFragment    = "fragment"    // a later datagram of a fragmented packet
	KindReassembled = "reassembled" // a fragmented packet, once complete
	KindOther       = "other"       // not ZeroTier: ARP, punch probes, other ports
	KindIncomplete  = "incomplete"  // fragments still missing at the end
)

// MAC verdicts.
const (
	VerdictOK      = "ok"
	VerdictBad     = "bad"
	VerdictNoKey   = "no key"
	VerdictTrusted = "trusted path"
)

// Record describes one datagram, or one reassembled packet.
type Record struct {
	File      string
	Frame     int // 1-based within File
	Time      time.Time
	Rel       time.Duration // since the first frame of the first file
	UDPSource netip.AddrPort
	UDPDest   netip.AddrPort
	Length    int // UDP payload (or reassembled packet) length
	Kind      string
	Note      string // for other: what it is

	Source, Destination identity.Address // Source is 0 for fragments
	PacketID            uint64
	FragmentNumber      int
	FragmentTotal       int
	Hops                int
	Cipher              wire.CipherSuite
	Verdict             string
	Verb                wire.Verb
	HasVerb             bool
	Compressed          bool
	Text                string         // the verb's main fields, human readable
	Fields              map[string]any // the same, for JSON
	Inner               string         // summary of the Ethernet frame a FRAME carries
	Worlds              []string       // worlds an OK(HELLO) carried
	Err                 string         // why authentication or decoding failed

	// For conformance tests: the packet as on the wire (reassembled), the
	// datagrams it came in, and after dearmoring and decompression.
	wire      wire.Packet
	datagrams [][]byte
	plain     wire.Packet
	iv        [8]byte
	keys      *wire.Keys
	message   wire.Message
}

// Summary counts what a decode saw.
type Summary struct {
	Packets       int            `json:"packets"`
	Fragments     int            `json:"fragments"`
	Authenticated int            `json:"authenticated"`
	NoKey         int            `json:"no_key"`
	Failed        int            `json:"failed"`
	Other         int            `json:"other"`
	Verbs         map[string]int `json:"verbs"`
}
