package ztlayers

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// captureDir is the lab capture of four 1.14.1 nodes (its README.md says
// what happened when).
var captureDir = []string{"captures", "basic"}

// captureKeys derives the key of every pair of lab nodes from the
// identities (with secrets) stored beside the capture.
type captureKeys struct {
	ids  map[identity.Address]*identity.Identity
	keys map[[2]identity.Address]*wire.Keys
}

func loadCaptureKeys(t testing.TB) *captureKeys {
	t.Helper()
	c := &captureKeys{ids: map[identity.Address]*identity.Identity{}, keys: map[[2]identity.Address]*wire.Keys{}}
	for _, role := range []string{"root", "controller", "za", "zb"} {
		s := testutil.ReadFile(t, append(captureDir, role+".identity.secret")...)
		id, err := identity.Parse(string(s))
		if err != nil {
			t.Fatalf("%s identity: %v", role, err)
		}
		c.ids[id.Address()] = id
	}
	return c
}

func (c *captureKeys) between(t testing.TB, a, b identity.Address) *wire.Keys {
	t.Helper()
	pair := [2]identity.Address{min(a, b), max(a, b)}
	if k, ok := c.keys[pair]; ok {
		return k
	}
	local, peer := c.ids[pair[0]], c.ids[pair[1]]
	if local == nil || peer == nil {
		t.Fatalf("no identity for %v or %v", a, b)
	}
	k, err := wire.KeysBetween(local, peer)
	if err != nil {
		t.Fatal(err)
	}
	c.keys[pair] = k
	return k
}

// decodedTSV reads the capture's reference decode: frame number → verb,
// for every row that finishes a packet.
func decodedTSV(t testing.TB) map[int]string {
	t.Helper()
	out := map[int]string{}
	sc := bufio.NewScanner(bytes.NewReader(testutil.ReadFile(t, append(captureDir, "decoded.tsv")...)))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 12 || (f[5] != "packet" && f[5] != "reassembled") {
			continue
		}
		n, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatal(err)
		}
		out[n] = f[11]
	}
	return out
}

// TestCapture decodes every frame of a real capture as a capture tool
// would: gopacket from Ethernet down to the ZeroTier layers, reassembly,
// dearmoring with the lab's keys, then the envelope on into the tunnelled
// Ethernet traffic. The counts are the ones the capture's README gives.
func TestCapture(t *testing.T) {
	frames := pcapFrames(t, append(captureDir, "basic.pcap")...)
	keys := loadCaptureKeys(t)
	wantVerbs := decodedTSV(t)
	if len(frames) != 609 {
		t.Fatalf("%d frames", len(frames))
	}

	outer := map[gopacket.LayerType]int{} // ZeroTier layers seen on the wire
	verbs := map[string]int{}
	inner := map[gopacket.LayerType]int{} // what FRAMEs and MULTICAST_FRAMEs carry
	clearHellos := 0
	r := wire.NewReassembler(0)
	s := newStack(layers.LayerTypeEthernet)
	for i, frame := range frames {
		n := i + 1 // frame numbers in decoded.tsv and the README start at 1
		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, strict)
		if e := p.ErrorLayer(); e != nil {
			t.Fatalf("frame %d: %v", n, e.Error())
		}
		if p.Layer(layers.LayerTypeUDP) == nil {
			continue // underlay ARP
		}
		reserialize(t, p, frame)
		if err := s.parser.DecodeLayers(frame, &s.decoded); err != nil {
			t.Fatalf("frame %d: parser: %v", n, err)
		}
		var whole wire.Packet
		switch {
		case p.Layer(LayerTypeZeroTierFragment) != nil:
			outer[LayerTypeZeroTierFragment]++
			f := p.Layer(LayerTypeZeroTierFragment).(*Fragment)
			if !f.Valid() || s.frag.PacketID != f.PacketID {
				t.Fatalf("frame %d: fragment %+v (parser %+v)", n, f, s.frag)
			}
			wf, err := wire.ParseFragment(slices.Concat(f.Contents, f.Payload))
			if err != nil {
				t.Fatalf("frame %d: %v", n, err)
			}
			whole, _ = r.AddFragment(nil, wf)
		case p.Layer(LayerTypeZeroTierPacket) != nil:
			outer[LayerTypeZeroTierPacket]++
			pkt := p.Layer(LayerTypeZeroTierPacket).(*Packet)
			if s.pkt.PacketID != pkt.PacketID {
				t.Fatalf("frame %d: parser saw packet %x", n, s.pkt.PacketID)
			}
			if v, ok := p.Layer(LayerTypeZeroTierVerb).(*Verb); ok {
				// Only suite 0 reaches the verb without keys: the HELLOs.
				if v.Verb != wire.VerbHELLO || pkt.Cipher != wire.SuitePoly1305None {
					t.Fatalf("frame %d: clear-text %v with cipher %v", n, v.Verb, pkt.Cipher)
				}
				if h := v.Message.(*wire.Hello); h.Identity.Address() != pkt.Source {
					t.Fatalf("frame %d: HELLO from %v carries identity %v", n, pkt.Source, h.Identity.Address())
				}
				clearHellos++
			} else if p.Layer(gopacket.LayerTypePayload) == nil {
				t.Fatalf("frame %d: encrypted envelope not left as payload: %v", n, p.Layers())
			}
			data := wire.Packet(slices.Concat(pkt.Contents, pkt.Payload))
			if pkt.Fragmented {
				whole, _ = r.AddHead(nil, data)
			} else {
				whole = data
			}
		default:
			outer[gopacket.LayerTypePayload]++
			if len(p.ApplicationLayer().Payload()) != 4 {
				t.Fatalf("frame %d: %v", n, p.Layers())
			}
		}
		if whole == nil {
			continue
		}

		plain := slices.Clone(whole)
		if _, err := wire.Dearmor(plain, keys.between(t, plain.Source(), plain.Destination())); err != nil {
			t.Fatalf("frame %d: dearmor %v→%v: %v", n, plain.Source(), plain.Destination(), err)
		}
		dp := gopacket.NewPacket(plain, DearmoredDecoder, strict)
		lts := layerTypes(t, dp)
		v := dp.Layer(LayerTypeZeroTierVerb).(*Verb)
		verbs[v.Verb.String()]++
		if want := wantVerbs[n]; want != v.Verb.String() {
			t.Errorf("frame %d: verb %v, decoded.tsv says %q", n, v.Verb, want)
		}
		if isFrameVerb(v.Verb) {
			if v.Frame.NetworkID != testNetworkID || len(lts) < 3 {
				t.Errorf("frame %d: %v on %x carries %v", n, v.Verb, v.Frame.NetworkID, lts)
			}
			if v.Verb == wire.VerbFRAME {
				inner[lts[2]]++ // the Packet, Verb, then this
				if tl := dp.TransportLayer(); tl != nil {
					inner[tl.LayerType()]++
				}
				if l := dp.Layer(layers.LayerTypeICMPv4); l != nil {
					inner[layers.LayerTypeICMPv4]++
				}
				if l := dp.Layer(layers.LayerTypeICMPv6); l != nil {
					inner[layers.LayerTypeICMPv6]++
				}
				if l := dp.Layer(gopacket.LayerTypeFragment); l != nil {
					inner[gopacket.LayerTypeFragment]++
				}
			}
			if v.Verb == wire.VerbMULTICAST_FRAME && lts[2] != layers.LayerTypeARP {
				t.Errorf("frame %d: MULTICAST_FRAME carries %v, want the ARP request", n, lts)
			}
		}
		reserialize(t, dp, plain)
	}

	if want := map[gopacket.LayerType]int{LayerTypeZeroTierPacket: 452, LayerTypeZeroTierFragment: 115,
		gopacket.LayerTypePayload: 3}; !maps.Equal(outer, want) {
		t.Errorf("datagrams %v, want %v", outer, want)
	}
	if clearHellos != 21 {
		t.Errorf("%d HELLOs decoded without keys, want 21", clearHellos)
	}
	wantVerbCounts := map[string]int{
		"FRAME": 243, "OK": 67, "WHOIS": 38, "MULTICAST_LIKE": 29, "MULTICAST_GATHER": 22, "HELLO": 21,
		"NETWORK_CONFIG_REQUEST": 6, "RENDEZVOUS": 6, "ERROR": 4, "NETWORK_CREDENTIALS": 4,
		"PUSH_DIRECT_PATHS": 4, "ECHO": 3, "MULTICAST_FRAME": 3, "NETWORK_CONFIG": 2,
	}
	if !maps.Equal(verbs, wantVerbCounts) {
		t.Errorf("verbs %v\nwant %v", verbs, wantVerbCounts)
	}
	// README: FRAME 243 = TCP 208, ICMP 22, ICMPv6 8, ARP 5. Twelve of the
	// ICMP FRAMEs are halves of the three 4028-byte pings each way, IPv4
	// fragments, which gopacket leaves as gopacket.Fragment (it decodes
	// ICMP only from unfragmented datagrams).
	wantInner := map[gopacket.LayerType]int{
		layers.LayerTypeIPv4: 208 + 22, layers.LayerTypeIPv6: 8, layers.LayerTypeARP: 5,
		layers.LayerTypeTCP: 208, layers.LayerTypeICMPv4: 22 - 12, gopacket.LayerTypeFragment: 12,
		layers.LayerTypeICMPv6: 8,
	}
	if !maps.Equal(inner, wantInner) {
		t.Errorf("FRAME contents %s\nwant %s", fmtCounts(inner), fmtCounts(wantInner))
	}
}

func fmtCounts(m map[gopacket.LayerType]int) string {
	var parts []string
	for lt, n := range m {
		parts = append(parts, fmt.Sprintf("%v:%d", lt, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
