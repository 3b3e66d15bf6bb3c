package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

var basic struct {
	sync.Once
	recs []*Record
	sum  Summary
}

// decodeBasic decodes the basic lab capture with every node's secret, once
// for all tests (they only read the records).
func decodeBasic(t *testing.T) ([]*Record, Summary) {
	t.Helper()
	basic.Do(func() { basic.recs, basic.sum = decodeBasicOnce(t) })
	if basic.recs == nil {
		t.Fatal("decoding the basic capture failed")
	}
	return basic.recs, basic.sum
}

func decodeBasicOnce(t *testing.T) ([]*Record, Summary) {
	t.Helper()
	ids, err := LoadIdentities(testutil.Path(t, "captures", "basic"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := 0
	for _, id := range ids {
		if id.HasSecret() {
			secrets++
		}
	}
	if secrets != 4 {
		t.Fatalf("want the 4 lab secrets, got %d", secrets)
	}
	d := NewDecoder(Options{Identities: ids})
	f, err := os.Open(testutil.Path(t, "captures", "basic", "basic.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []*Record
	emit := func(r *Record) { recs = append(recs, r) }
	if err := d.DecodeFile("basic.pcap", f, emit); err != nil {
		t.Fatal(err)
	}
	d.Finish(emit)
	return recs, d.Summary()
}

func TestBasicCaptureSummary(t *testing.T) {
	recs, s := decodeBasic(t)
	// Counts from the corpus README: 337 whole packets + 115 reassembled,
	// 115 fragments, 38 underlay ARP + 3 punch probes + 1 ICMP error.
	if s.Packets != 452 || s.Fragments != 115 || s.Authenticated != 452 || s.NoKey != 0 || s.Failed != 0 || s.Other != 42 {
		t.Errorf("summary %+v", s)
	}
	want := map[string]int{"FRAME": 243, "OK": 67, "WHOIS": 38, "MULTICAST_LIKE": 29, "MULTICAST_GATHER": 22,
		"HELLO": 21, "NETWORK_CONFIG_REQUEST": 6, "RENDEZVOUS": 6, "ERROR": 4, "NETWORK_CREDENTIALS": 4,
		"PUSH_DIRECT_PATHS": 4, "ECHO": 3, "MULTICAST_FRAME": 3, "NETWORK_CONFIG": 2}
	for v, n := range want {
		if s.Verbs[v] != n {
			t.Errorf("%s: %d, want %d", v, s.Verbs[v], n)
		}
	}
	if len(s.Verbs) != len(want) {
		t.Errorf("verbs %v", s.Verbs)
	}
	for _, r := range recs {
		if r.Err != "" || r.Kind == KindIncomplete {
			t.Errorf("frame %d %s: %s %s", r.Frame, r.Kind, r.Err, r.Text)
		}
	}
}

// TestBasicCaptureIdentities: every identity a HELLO or OK(WHOIS) carries
// passes the proof of work (the decoder refuses any that does not, so also
// check that all four were seen).
func TestBasicCaptureIdentities(t *testing.T) {
	recs, _ := decodeBasic(t)
	seen := map[string]bool{}
	for _, r := range recs {
		switch m := r.message.(type) {
		case *wire.Hello:
			if err := m.Identity.Validate(); err != nil {
				t.Errorf("frame %d: HELLO identity: %v", r.Frame, err)
			}
			seen[m.Identity.Address().String()] = true
		case *wire.OK:
			if w, ok := m.Reply.(*wire.OKWhois); ok {
				for _, id := range w.Identities {
					if err := id.Validate(); err != nil {
						t.Errorf("frame %d: WHOIS identity: %v", r.Frame, err)
					}
					seen[id.Address().String()] = true
				}
			}
		}
	}
	for _, a := range []string{"cbf31c2eda", "6a65e33cf6", "203540ed5f", "a9a35b19f2"} {
		if !seen[a] {
			t.Errorf("identity %s never carried", a)
		}
	}
}

// TestBasicCaptureReArmor rebuilds every packet from its decoded fields —
// re-encoding the verb (VL2 verbs through VL2's codecs), compressing with our
// LZ4 when the original was compressed, cryptField for HELLO, armoring with
// the original IV and key — and checks the captured bytes come back exactly,
// fragment datagrams included. No packet is exempt: our LZ4 makes the same
// choices as 1.14.1's.
func TestBasicCaptureReArmor(t *testing.T) {
	recs, _ := decodeBasic(t)
	scratch := make([]byte, 2*wire.MaxPacketLength)
	checked := 0
	for _, r := range recs {
		if r.message == nil {
			continue
		}
		orig := r.wire
		p := wire.NewPacket(nil, binary.BigEndian.Uint64(r.iv[:]), orig.Destination(), orig.Source(), r.Verb)
		p.SetFragmented(orig.Fragmented())
		p = wire.Packet(reencode(t, r, p))
		if r.Compressed {
			p = wire.Compress(p, scratch)
			if !p.Compressed() {
				t.Errorf("frame %d: our LZ4 did not compress what 1.14.1 did", r.Frame)
				continue
			}
		}
		if h, ok := r.message.(*wire.Hello); ok && h.CryptOffset() > 0 {
			wire.CryptField(p, r.keys, wire.IdxPayload+h.CryptOffset())
		}
		if err := wire.Armor(p, r.keys, r.Cipher); err != nil {
			t.Fatal(err)
		}
		p.SetHops(r.Hops)
		if !bytes.Equal(p, orig) {
			t.Errorf("frame %d (%v, suite %d): re-armored packet differs\n got %x\nwant %x", r.Frame, r.Verb, r.Cipher, []byte(p), []byte(orig))
			continue
		}
		if orig.Fragmented() {
			got := wire.Split(p, wire.DefaultPhysMTU)
			if len(got) != len(r.datagrams) {
				t.Errorf("frame %d: %d datagrams, captured %d", r.Frame, len(got), len(r.datagrams))
				continue
			}
			for _, d := range r.datagrams {
				n := 0
				if wire.IsFragment(d) {
					n = int(d[14] & 0x0f)
					got[n][15] = d[15] // a relay may have raised the fragment's hop count
				}
				if !bytes.Equal(got[n], d) {
					t.Errorf("frame %d: datagram %d differs", r.Frame, n)
				}
			}
		}
		checked++
	}
	if checked != 452 {
		t.Errorf("re-armored %d packets, want all 452", checked)
	}
}

// reencode appends the payload of r's message to p, taking VL2 verbs through
// the VL2 codecs so their decoders are held to exact round trips too.
func reencode(t *testing.T, r *Record, p []byte) []byte {
	switch m := r.message.(type) {
	case *wire.VL2:
		v, err := vl2wire.Parse(m.V, m.AppendPayload(nil))
		if err != nil {
			t.Fatalf("frame %d: %v", r.Frame, err)
		}
		return v.AppendPayload(p)
	case *wire.OK:
		if vb, ok := m.Reply.(*wire.VL2); ok {
			body, err := vl2wire.ParseOKBody(m.InReVerb, vb.AppendPayload(nil))
			if err != nil {
				t.Fatalf("frame %d: %v", r.Frame, err)
			}
			p = append(p, byte(m.InReVerb))
			p = binary.BigEndian.AppendUint64(p, m.InReID)
			return body.AppendPayload(p)
		}
	}
	return r.message.AppendPayload(p)
}

// TestBasicCaptureAgreesWithReference compares every row of decoded.tsv —
// what a decoder built on the 1.14.1 code read — with our records.
func TestBasicCaptureAgreesWithReference(t *testing.T) {
	recs, _ := decodeBasic(t)
	byFrame := map[string]*Record{}
	for _, r := range recs {
		kind := r.Kind
		if r.Kind == KindOther {
			kind = "other"
		}
		byFrame[fmt.Sprintf("%d/%s", r.Frame, kind)] = r
	}
	f, err := os.Open(testutil.Path(t, "captures", "basic", "decoded.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	rows := 0
	for sc.Scan() {
		col := strings.Split(sc.Text(), "\t")
		for len(col) < 13 {
			col = append(col, "")
		}
		rows++
		kind := col[5]
		switch {
		case kind == "short":
			kind = "other"
		case strings.HasPrefix(kind, "fragment"):
			kind = KindFragment
		}
		r := byFrame[col[0]+"/"+kind]
		if r == nil {
			t.Errorf("row %q: no record of frame %s kind %s", sc.Text(), col[0], kind)
			continue
		}
		if err := agree(r, col); err != nil {
			t.Errorf("frame %s %s: %v\n  reference: %s\n  ours:      %s %s: %s", col[0], col[5], err, col[12], r.Verb, r.Text, r.Inner)
		}
	}
	if rows != 685 {
		t.Errorf("%d rows, want 685", rows)
	}
}

func agree(r *Record, col []string) error {
	udpLen, _ := strconv.Atoi(col[4])
	if col[2] != r.UDPSource.String() || col[3] != r.UDPDest.String() || udpLen != r.Length {
		return fmt.Errorf("endpoints %s→%s len %d", r.UDPSource, r.UDPDest, r.Length)
	}
	if r.Kind == KindOther {
		return nil
	}
	if r.Kind == KindFragment {
		if col[5] != fmt.Sprintf("fragment %d/%d", r.FragmentNumber, r.FragmentTotal) {
			return fmt.Errorf("fragment %d/%d", r.FragmentNumber, r.FragmentTotal)
		}
	} else if col[6] != r.Source.String() || col[10] != strconv.Itoa(int(r.Cipher)) {
		return fmt.Errorf("source %s cipher %d", r.Source, r.Cipher)
	}
	if col[7] != r.Destination.String() || col[8] != hex64(r.PacketID) || col[9] != strconv.Itoa(r.Hops) {
		return fmt.Errorf("dest %s id %s hops %d", r.Destination, hex64(r.PacketID), r.Hops)
	}
	if r.Kind == KindFragment || r.Kind == KindHead {
		return nil
	}
	if col[11] != r.Verb.String() {
		return fmt.Errorf("verb %v", r.Verb)
	}
	return agreeDetail(r, col[12])
}

var (
	reHello     = regexp.MustCompile(`^proto (\d+) ver (\S+) id (\w+)$`)
	reOK        = regexp.MustCompile(`^re (\w+) pid (\w+)(?: proto (\d+) ver (\S+))?(?: nwid (\w+))?$`)
	reError     = regexp.MustCompile(`^re (\w+) pid (\w+) code (\d+)$`)
	reRendez    = regexp.MustCompile(`^with (\w+) at (\S+)$`)
	reLike      = regexp.MustCompile(`^(\d+) entries first nwid (\w+) mac (\S+) adi (\w+)$`)
	reGather    = regexp.MustCompile(`^nwid (\w+) flags (\w+) mac (\S+) adi (\w+) limit (\d+)$`)
	reMFrame    = regexp.MustCompile(`^nwid (\w+) flags (\w+)$`)
	rePaths     = regexp.MustCompile(`^(\d+) paths$`)
	reNwid      = regexp.MustCompile(`^nwid (\w+)$`)
	reFrame     = regexp.MustCompile(`^nwid (\w+) (.*)$`)
	reFrameIPv4 = regexp.MustCompile(`^IPv4 (\S+)>(\S+) len (\d+)( \(ipfrag\))? (?:TCP (\d+)>(\d+)|ICMP type (\d+)|proto (\d+) \(non-first fragment\))$`)
	reFrameIPv6 = regexp.MustCompile(`^IPv6 (\S+)>(\S+) ICMPv6 type (\d+)$`)
	reFrameARP  = regexp.MustCompile(`^ARP (request|reply) (\S+)>(\S+)$`)
)

func agreeDetail(r *Record, detail string) error {
	detail = strings.TrimSpace(detail)
	f := r.Fields
	eq := func(what string, got any, want string) error {
		if fmt.Sprint(got) != want {
			return fmt.Errorf("%s: got %v, reference %s", what, got, want)
		}
		return nil
	}
	match := func(re *regexp.Regexp) ([]string, error) {
		m := re.FindStringSubmatch(detail)
		if m == nil {
			return nil, fmt.Errorf("reference detail %q not understood", detail)
		}
		return m, nil
	}
	first := func(errs ...error) error {
		for _, e := range errs {
			if e != nil {
				return e
			}
		}
		return nil
	}
	switch r.Verb {
	case wire.VerbHELLO:
		m, err := match(reHello)
		if err != nil {
			return err
		}
		h := r.message.(*wire.Hello)
		return first(eq("protocol", f["protocol"], m[1]), eq("version", f["version"], m[2]), eq("id", h.Identity.Address(), m[3]))
	case wire.VerbOK:
		m, err := match(reOK)
		if err != nil {
			return err
		}
		errs := []error{eq("in-re verb", f["in_re_verb"], m[1]), eq("in-re id", f["in_re_packet_id"], m[2])}
		if m[3] != "" {
			errs = append(errs, eq("protocol", f["protocol"], m[3]), eq("version", f["version"], m[4]))
		}
		if m[5] != "" {
			errs = append(errs, eq("nwid", f["network_id"], m[5]))
		}
		return first(errs...)
	case wire.VerbERROR:
		m, err := match(reError)
		if err != nil {
			return err
		}
		e := r.message.(*wire.Error)
		return first(eq("in-re verb", e.InReVerb, m[1]), eq("in-re id", hex64(e.InReID), m[2]), eq("code", int(e.Code), m[3]))
	case wire.VerbWHOIS:
		return eq("addresses", strings.Join(f["addresses"].([]string), " "), detail)
	case wire.VerbRENDEZVOUS:
		m, err := match(reRendez)
		if err != nil {
			return err
		}
		return first(eq("with", f["with"], m[1]), eq("endpoint", f["endpoint"], m[2]))
	case wire.VerbMULTICAST_LIKE:
		m, err := match(reLike)
		if err != nil {
			return err
		}
		groups := f["groups"].([]string)
		return first(eq("entries", len(groups), m[1]), eq("first", groups[0], m[2]+"/"+m[3]+"/"+m[4]))
	case wire.VerbMULTICAST_GATHER:
		m, err := match(reGather)
		if err != nil {
			return err
		}
		return first(eq("nwid", f["network_id"], m[1]), eq("flags", fmt.Sprintf("%02x", f["flags"]), m[2]),
			eq("group", f["group"], m[3]+"/"+m[4]), eq("limit", f["limit"], m[5]))
	case wire.VerbMULTICAST_FRAME:
		m, err := match(reMFrame)
		if err != nil {
			return err
		}
		return first(eq("nwid", f["network_id"], m[1]), eq("flags", fmt.Sprintf("%02x", f["flags"]), m[2]))
	case wire.VerbPUSH_DIRECT_PATHS:
		m, err := match(rePaths)
		if err != nil {
			return err
		}
		return eq("paths", len(f["paths"].([]string)), m[1])
	case wire.VerbNETWORK_CONFIG_REQUEST, wire.VerbNETWORK_CONFIG:
		m, err := match(reNwid)
		if err != nil {
			return err
		}
		return eq("nwid", f["network_id"], m[1])
	case wire.VerbFRAME:
		m, err := match(reFrame)
		if err != nil {
			return err
		}
		if err := eq("nwid", f["network_id"], m[1]); err != nil {
			return err
		}
		return agreeFrame(f["frame"].(map[string]any), m[2], eq)
	}
	if detail != "" {
		return fmt.Errorf("no check for %v with detail %q", r.Verb, detail)
	}
	return nil
}

func agreeFrame(f map[string]any, detail string, eq func(string, any, string) error) error {
	if m := reFrameIPv4.FindStringSubmatch(detail); m != nil {
		errs := []error{eq("src", f["src"], m[1]), eq("dst", f["dst"], m[2]), eq("length", f["ip_length"], m[3])}
		_, frag := f["ip_fragment_offset"]
		errs = append(errs, eq("ipfrag", frag, strconv.FormatBool(m[4] != "")))
		switch {
		case m[5] != "":
			errs = append(errs, eq("sport", f["src_port"], m[5]), eq("dport", f["dst_port"], m[6]))
		case m[7] != "":
			errs = append(errs, eq("icmp type", f["icmp_type"], m[7]))
		default:
			errs = append(errs, eq("protocol", f["protocol"], m[8]))
		}
		for _, e := range errs {
			if e != nil {
				return e
			}
		}
		return nil
	}
	if m := reFrameIPv6.FindStringSubmatch(detail); m != nil {
		for _, e := range []error{eq("src", f["src"], m[1]), eq("dst", f["dst"], m[2]), eq("icmpv6 type", f["icmp_type"], m[3])} {
			if e != nil {
				return e
			}
		}
		return nil
	}
	if m := reFrameARP.FindStringSubmatch(detail); m != nil {
		op := map[string]string{"request": "1", "reply": "2"}[m[1]]
		for _, e := range []error{eq("arp op", f["arp_op"], op), eq("sender", f["sender_ip"], m[2]), eq("target", f["target_ip"], m[3])} {
			if e != nil {
				return e
			}
		}
		return nil
	}
	return fmt.Errorf("frame detail %q not understood", detail)
}
