package vl2wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// capturedPayload is one line of testdata/basic_vl2.tsv: a VL2 payload, OK
// body or ERROR body sent by a 1.14.1 node in captures/basic.
type capturedPayload struct {
	frame    int
	src, dst identity.Address
	verb     wire.Verb // the packet's verb
	kind     string    // verb, ok or error
	payload  []byte    // everything after the verb byte
}

func loadCaptured(t *testing.T) []capturedPayload {
	t.Helper()
	f, err := os.Open("testdata/basic_vl2.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []capturedPayload
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 6 {
			t.Fatalf("bad line %q", line)
		}
		var p capturedPayload
		p.frame, _ = strconv.Atoi(c[0])
		src, err1 := identity.ParseAddress(c[1])
		dst, err2 := identity.ParseAddress(c[2])
		b, err3 := hex.DecodeString(c[5])
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("bad line %q", line)
		}
		p.src, p.dst, p.kind, p.payload = src, dst, c[4], b
		for v := range wire.Verb(32) {
			if v.String() == c[3] {
				p.verb = v
			}
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCapturedPayloads decodes every VL2 payload of the lab capture,
// re-encodes it byte for byte and checks what the capture README says
// about it; certificates and config chunks verify with the lab controller's
// identity.
func TestCapturedPayloads(t *testing.T) {
	ctl := loadIdentity(t, "controller")
	seen := map[string]int{}
	for _, p := range loadCaptured(t) {
		name := "frame " + strconv.Itoa(p.frame)
		var msg interface{ AppendPayload([]byte) []byte }
		var err error
		body := p.payload
		switch p.kind {
		case "verb":
			var m wire.Message
			m, err = Parse(p.verb, body)
			msg = m
			seen[p.verb.String()]++
		case "ok":
			inRe := wire.Verb(body[0] & 0x1f)
			body = body[9:]
			if inRe == wire.VerbECHO { // the NETWORK_CONFIG acknowledgement quirk
				msg, err = ParseOKNetworkConfig(body)
			} else {
				msg, err = ParseOKBody(inRe, body)
			}
			seen["OK("+inRe.String()+")"]++
		case "error":
			code := wire.ErrorCode(body[9])
			seen["ERROR("+wire.Verb(body[0]&0x1f).String()+", "+code.String()+")"]++
			var e *ErrorBody
			e, err = ParseErrorBody(code, body[10:])
			body = body[10:]
			if err == nil {
				msg = errorBodyMessage{e}
				if e.NetworkID != labNetwork {
					t.Errorf("%s: error names network %016x", name, e.NetworkID)
				}
			}
		}
		if err != nil {
			t.Errorf("%s %v %s: %v", name, p.verb, p.kind, err)
			continue
		}
		if enc := msg.AppendPayload(nil); !bytes.Equal(enc, body) {
			t.Errorf("%s: re-encoding differs\n got %x\nwant %x", name, enc, body)
		}
		checkCaptured(t, name, p, msg, ctl)
	}
	want := map[string]int{
		"MULTICAST_LIKE": 29, "MULTICAST_GATHER": 22, "NETWORK_CONFIG_REQUEST": 6, "NETWORK_CONFIG": 2,
		"NETWORK_CREDENTIALS": 4, "MULTICAST_FRAME": 3, "FRAME": 8,
		"OK(NETWORK_CONFIG_REQUEST)": 2, "OK(ECHO)": 2, "OK(MULTICAST_GATHER)": 2, "OK(MULTICAST_FRAME)": 3,
		"ERROR(NETWORK_CONFIG_REQUEST, NETWORK_ACCESS_DENIED)": 2,
		"ERROR(MULTICAST_FRAME, NEED_MEMBERSHIP_CERTIFICATE)":  2,
	}
	for k, n := range want {
		if seen[k] != n {
			t.Errorf("%s: %d in the capture, want %d", k, seen[k], n)
		}
	}
}

type errorBodyMessage struct{ *ErrorBody }

func (e errorBodyMessage) AppendPayload(b []byte) []byte { return e.Append(b) }

func checkCaptured(t *testing.T, name string, p capturedPayload, msg any, ctl *identity.Identity) {
	t.Helper()
	checkCOM := func(c *COM) {
		t.Helper()
		if c == nil || !c.Verify(ctl) || c.NetworkID() != labNetwork || (c.IssuedTo() != labZA && c.IssuedTo() != labZB) {
			t.Errorf("%s: COM %+v does not verify", name, c)
		}
	}
	switch m := msg.(type) {
	case *MulticastLike:
		for _, r := range m.Records {
			if r.NetworkID != labNetwork {
				t.Errorf("%s: LIKE for %016x", name, r.NetworkID)
			}
		}
	case *NetworkConfigRequest:
		// A 1.14.1 node on Linux x86-64 sends exactly the metadata of
		// vl2.md §2.7, and no held config yet.
		if string(m.Metadata) != specMetadata || !m.HasRevision || !m.HasTimestamp || m.Revision != 0 || m.Timestamp != 0 {
			t.Errorf("%s: request %+v", name, m)
		}
	case *ConfigChunk:
		checkChunk(t, name, p, m, ctl, checkCOM)
	case *OKNetworkConfigRequest:
		checkChunk(t, name, p, &m.ConfigChunk, ctl, checkCOM)
	case *MulticastGather:
		if m.COM != nil {
			checkCOM(m.COM)
			if m.COM.IssuedTo() != p.src {
				t.Errorf("%s: GATHER from %v carries a COM for %v", name, p.src, m.COM.IssuedTo())
			}
		}
		if m.Trailing != nil || m.Flags&GatherFlagCOM != 0 && m.COM == nil {
			t.Errorf("%s: GATHER flags %#x COM %v trailing %x", name, m.Flags, m.COM, m.Trailing)
		}
	case *NetworkCredentials:
		if len(m.COMs) != 1 || m.Lists != 4 || m.COMs[0].IssuedTo() != p.src {
			t.Errorf("%s: credentials %+v", name, m)
		}
		for _, c := range m.COMs {
			checkCOM(c)
		}
	case *MulticastFrame:
		// ARP requests to the group of the target's IPv4 address.
		if m.EtherType != 0x0806 || !m.Group.MAC.IsBroadcast() || len(m.Payload) != 28 ||
			m.Group.ADI != uint32(m.Payload[24])<<24|uint32(m.Payload[25])<<16|uint32(m.Payload[26])<<8|uint32(m.Payload[27]) {
			t.Errorf("%s: MULTICAST_FRAME %+v", name, m)
		}
	case *OKMulticastGather:
		if len(m.Members) == 0 || int(m.TotalKnown) < len(m.Members) {
			t.Errorf("%s: gather results %+v", name, m)
		}
	case *OKMulticastFrame:
		if m.Flags != OKMulticastFlagGather || len(m.Members) == 0 {
			t.Errorf("%s: OK(MULTICAST_FRAME) %+v", name, m)
		}
	case *Frame:
		if m.NetworkID != labNetwork {
			t.Errorf("%s: FRAME for %016x", name, m.NetworkID)
		}
	case *OKNetworkConfig:
		if m.NetworkID != labNetwork || m.UpdateID == 0 {
			t.Errorf("%s: config acknowledgement %+v", name, m)
		}
	}
}

func checkChunk(t *testing.T, name string, p capturedPayload, c *ConfigChunk, ctl *identity.Identity, checkCOM func(*COM)) {
	t.Helper()
	// 1.14.1 controllers send one signed chunk, flags 0.
	if c.Legacy || c.Flags != 0 || c.Offset != 0 || int(c.TotalLength) != len(c.Chunk) || c.UpdateID == 0 {
		t.Fatalf("%s: chunk %+v", name, c)
	}
	if !c.Verify(ctl) {
		t.Errorf("%s: chunk signature does not verify", name)
	}
	d, err := ParseDictionary(c.Chunk)
	if err != nil {
		t.Fatalf("%s: config dictionary: %v", name, err)
	}
	if enc := d.Append(nil); !bytes.Equal(enc, c.Chunk) {
		t.Errorf("%s: config dictionary re-encodes differently", name)
	}
	nwid, _ := d.GetUint64("nwid")
	mtu, _ := d.GetUint64("mtu")
	ml, _ := d.GetUint64("ml")
	v, _ := d.GetUint64("v")
	n, _ := d.GetString("n")
	id, _ := d.GetString("id")
	if nwid != labNetwork || mtu != 2800 || ml != 32 || v != 7 || n != "ztlab-basic" || id != p.dst.String() {
		t.Errorf("%s: config nwid %016x mtu %d ml %d v %d n %q id %s", name, nwid, mtu, ml, v, n, id)
	}
	raw, ok := d.Get("C")
	if !ok {
		t.Fatalf("%s: config has no COM", name)
	}
	com, used, err := ParseCOM(raw)
	if err != nil || used != len(raw) || len(raw) != 272 {
		t.Fatalf("%s: config COM: %d of %d bytes, %v", name, used, len(raw), err)
	}
	checkCOM(com)
	if com.IssuedTo() != p.dst {
		t.Errorf("%s: COM issued to %v, config sent to %v", name, com.IssuedTo(), p.dst)
	}
}
