package vl2wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"

	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// labNetworkJSON is what this test reads of controller.network.json.
type labNetworkJSON struct {
	Name            string `json:"name"`
	MTU             int    `json:"mtu"`
	MulticastLimit  uint64 `json:"multicastLimit"`
	Revision        uint64 `json:"revision"`
	Private         bool   `json:"private"`
	EnableBroadcast bool   `json:"enableBroadcast"`
	Routes          []struct {
		Target string  `json:"target"`
		Via    *string `json:"via"`
	} `json:"routes"`
	Rules []struct {
		Type string `json:"type"`
		Not  bool   `json:"not"`
		Or   bool   `json:"or"`
	} `json:"rules"`
	V6AssignMode struct {
		RFC4193 bool `json:"rfc4193"`
	} `json:"v6AssignMode"`
}

// labExpectedConfig derives, from the controller's JSON records alone, the
// parts of the config it issues member that do not depend on the clock
// (controller.md §8.5–8.8).
func labExpectedConfig(t *testing.T, member identity.Address) *NetworkConfig {
	var nw labNetworkJSON
	if err := json.Unmarshal(testutil.ReadFile(t, "captures", "basic", "controller.network.json"), &nw); err != nil {
		t.Fatal(err)
	}
	var m struct {
		IPAssignments []string `json:"ipAssignments"`
	}
	if err := json.Unmarshal(testutil.ReadFile(t, "captures", "basic", "controller.member."+member.String()+".json"), &m); err != nil {
		t.Fatal(err)
	}
	c := &NetworkConfig{NetworkID: labNetwork, CredentialTimeMaxDelta: labMaxDelta, Revision: nw.Revision, IssuedTo: member,
		MulticastLimit: nw.MulticastLimit, Name: nw.Name, MTU: nw.MTU, Type: NetworkPublic}
	if nw.Private {
		c.Type = NetworkPrivate
	}
	if nw.EnableBroadcast {
		c.Flags |= ConfigFlagEnableBroadcast
	}
	for _, r := range nw.Routes {
		rt := Route{Target: netip.MustParsePrefix(r.Target)}
		if r.Via != nil {
			rt.Via = netip.MustParseAddr(*r.Via)
		}
		c.Routes = append(c.Routes, rt)
	}
	if nw.V6AssignMode.RFC4193 { // fd ‖ network ID ‖ 99 93 ‖ address, /88 (vl2.md §1.4)
		var a [16]byte
		a[0] = 0xfd
		binary.BigEndian.PutUint64(a[1:], labNetwork)
		a[9], a[10] = 0x99, 0x93
		for i := range 5 {
			a[11+i] = byte(uint64(member) >> (32 - 8*i))
		}
		c.StaticIPs = append(c.StaticIPs, netip.PrefixFrom(netip.AddrFrom16(a), 88))
		c.Flags |= ConfigFlagNDPEmulation
	}
	for _, s := range m.IPAssignments {
		ip, bits := netip.MustParseAddr(s), -1
		for _, r := range c.Routes {
			if r.Target.Contains(ip) {
				bits = max(bits, r.Target.Bits())
			}
		}
		if bits >= 0 {
			c.StaticIPs = append(c.StaticIPs, netip.PrefixFrom(ip, bits))
		}
	}
	for _, r := range nw.Rules {
		code, ok := map[string]byte{"ACTION_DROP": 0, "ACTION_ACCEPT": 1, "ACTION_BREAK": 5}[r.Type]
		if !ok {
			t.Fatalf("rule type %s not covered by this test", r.Type)
		}
		c.Rules = append(c.Rules, code, 0) // NOT/OR apply to matches only
	}
	return c
}

// TestCapturedNetworkConfig reassembles every config the lab controller
// sent (OK(NETWORK_CONFIG_REQUEST) and the NETWORK_CONFIG push), verifies
// the chunk signature, and checks the config against the controller's
// records, its credentials against the identities, and that re-encoding
// gives the controller's bytes back.
func TestCapturedNetworkConfig(t *testing.T) {
	ctl := loadIdentity(t, "controller")
	members := map[identity.Address]*identity.Identity{labZA: loadIdentity(t, "za"), labZB: loadIdentity(t, "zb")}
	configs := map[identity.Address][]*NetworkConfig{}
	a := NewConfigAssembler()
	for _, p := range loadCaptured(t) {
		var body []byte
		switch {
		case p.kind == "ok" && wire.Verb(p.payload[0]&0x1f) == wire.VerbNETWORK_CONFIG_REQUEST:
			body = p.payload[9:]
		case p.kind == "verb" && p.verb == wire.VerbNETWORK_CONFIG:
			body = p.payload
		default:
			continue
		}
		chunk, err := ParseConfigChunk(body)
		if err != nil {
			t.Fatal(err)
		}
		if p.src != labController {
			t.Fatalf("frame %d: config from %v", p.frame, p.src)
		}
		dict, done, err := a.Add(chunk, ctl, true)
		if err != nil || !done {
			t.Fatalf("frame %d: %v %v", p.frame, done, err)
		}
		if _, done, err := a.Add(chunk, ctl, true); done || err != nil {
			t.Errorf("frame %d: duplicate chunk: %v %v", p.frame, done, err)
		}
		c, err := ParseNetworkConfigBytes(dict)
		if err != nil {
			t.Fatalf("frame %d: %v", p.frame, err)
		}
		if enc := c.Dictionary().Append(nil); !bytes.Equal(enc, dict) {
			t.Errorf("frame %d: re-encoded config differs\n got %q\nwant %q", p.frame, enc, dict)
		}
		checkCapturedConfig(t, p.frame, c, p.dst, members[p.dst], ctl)
		configs[p.dst] = append(configs[p.dst], c)
	}
	if len(configs[labZA]) != 2 || len(configs[labZB]) != 2 {
		t.Fatalf("configs: za %d, zb %d (want an OK and a push each)", len(configs[labZA]), len(configs[labZB]))
	}
	// The two members joined 10 s apart: their COMs agree both ways.
	ca, cb := configs[labZA][0].COM, configs[labZB][0].COM
	if !ca.AgreesWith(cb, members[labZB]) || !cb.AgreesWith(ca, members[labZA]) || ca.AgreesWith(cb, members[labZA]) {
		t.Error("lab COMs do not agree")
	}
	checkCapturedCredentials(t, configs, ctl)
}

func checkCapturedConfig(t *testing.T, frame int, c *NetworkConfig, member identity.Address, id *identity.Identity, ctl *identity.Identity) {
	t.Helper()
	want := labExpectedConfig(t, member)
	// Clock-dependent: the issue time, also in the credentials.
	want.Timestamp = c.Timestamp
	got := *c
	got.COM, got.COOs = nil, nil
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("frame %d: config\n got %+v\nwant %+v", frame, &got, want)
	}
	if !bytes.Equal(c.Rules, []byte{0x01, 0x00}) || c.Flags != 0x06 || c.MTU != 2800 || len(c.StaticIPs) != 2 {
		t.Errorf("frame %d: rules %x flags %#x mtu %d IPs %v", frame, c.Rules, c.Flags, c.MTU, c.StaticIPs)
	}
	com := NewCOM(c.Timestamp, c.CredentialTimeMaxDelta, labNetwork, id)
	if c.COM == nil || !reflect.DeepEqual(c.COM.Qualifiers, com.Qualifiers) || !c.COM.Verify(ctl) || c.COM.IssuedTo() != member {
		t.Errorf("frame %d: COM %+v", frame, c.COM)
	}
	if len(c.COOs) != 1 {
		t.Fatalf("frame %d: %d COOs", frame, len(c.COOs))
	}
	coo := c.COOs[0]
	if !coo.Verify(ctl) || coo.ID != 1 || coo.IssuedTo != member || coo.Timestamp != c.Timestamp || len(coo.Things) != len(c.StaticIPs) {
		t.Errorf("frame %d: COO %+v", frame, coo)
	}
	for _, p := range c.StaticIPs {
		if !coo.OwnsIP(p.Addr()) {
			t.Errorf("frame %d: COO does not own %v", frame, p)
		}
	}
	if coo.OwnsIP(netip.MustParseAddr("10.147.20.1")) {
		t.Errorf("frame %d: COO owns a foreign address", frame)
	}
}

// checkCapturedCredentials decodes every NETWORK_CREDENTIALS of the
// capture: the sender's COM and COO, identical to those its config carried.
func checkCapturedCredentials(t *testing.T, configs map[identity.Address][]*NetworkConfig, ctl *identity.Identity) {
	n := 0
	for _, p := range loadCaptured(t) {
		if p.kind != "verb" || p.verb != wire.VerbNETWORK_CREDENTIALS {
			continue
		}
		n++
		m, err := ParseNetworkCredentials(p.payload)
		if err != nil {
			t.Fatal(err)
		}
		caps, tags, revs, coos, err := m.Decode()
		if err != nil || caps != nil || tags != nil || revs != nil || len(coos) != 1 {
			t.Fatalf("frame %d: %v: %d %d %d %d", p.frame, err, len(caps), len(tags), len(revs), len(coos))
		}
		// The node applied the last config it received: the push that
		// followed the OK.
		cfg := configs[p.src][len(configs[p.src])-1]
		if !coos[0].Verify(ctl) || !reflect.DeepEqual(coos[0], cfg.COOs[0]) || !reflect.DeepEqual(m.COMs[0], cfg.COM) {
			t.Errorf("frame %d: credentials of %v differ from its config", p.frame, p.src)
		}
		if enc := AppendNetworkCredentials(nil, m.COMs, caps, tags, revs, coos); !bytes.Equal(enc, p.payload) {
			t.Errorf("frame %d: credentials re-encode differently", p.frame)
		}
	}
	if n != 4 {
		t.Errorf("%d NETWORK_CREDENTIALS", n)
	}
}
