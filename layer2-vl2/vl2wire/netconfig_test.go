package vl2wire

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// specExampleConfig is the config of the vl2.md §3.2 example (with a lab
// member's COM standing in for the one shown).
func specExampleConfig(t *testing.T) *NetworkConfig {
	za := loadIdentity(t, "za")
	c := &NetworkConfig{NetworkID: 0x99e005fcbb000001, Timestamp: 0x18bcfe56800, CredentialTimeMaxDelta: 0x1b7740,
		Revision: 3, IssuedTo: 0x7deeeb0cc1, Flags: ConfigFlagEnableBroadcast, MulticastLimit: 32,
		Type: NetworkPrivate, Name: "testnet", MTU: 2800,
		COM:       NewCOM(0x18bcfe56800, 0x1b7740, 0x99e005fcbb000001, za),
		Routes:    []Route{{Target: netip.MustParsePrefix("10.147.17.0/24")}},
		StaticIPs: []netip.Prefix{netip.MustParsePrefix("10.147.17.5/24")},
		Rules:     []byte{0x01, 0x00},
	}
	c.COM.SignedBy, c.COM.Signature = 0x99e005fcbb, sig96(1)
	coo := &COO{NetworkID: c.NetworkID, Timestamp: c.Timestamp, ID: 1, IssuedTo: c.IssuedTo, SignedBy: 0x99e005fcbb, Signature: sig96(2)}
	coo.AddIP(c.StaticIPs[0].Addr())
	c.COOs = []*COO{coo}
	return c
}

func TestNetworkConfigSpecExample(t *testing.T) {
	c := specExampleConfig(t)
	enc := string(c.Dictionary().Append(nil))
	lines := strings.Split(enc, "\n")
	var keys []string
	for _, l := range lines {
		keys = append(keys, l[:strings.IndexByte(l, '=')])
	}
	if got := strings.Join(keys, ","); got != "v,nwid,ts,ctmd,r,id,tt,tl,f,ml,t,n,mtu,C,COO,RT,I,R,DNS,ssov,ssoe" {
		t.Errorf("keys %s", got)
	}
	head := "v=0000000000000007\nnwid=99e005fcbb000001\nts=0000018bcfe56800\nctmd=00000000001b7740\n" +
		"r=0000000000000003\nid=7deeeb0cc1\ntt=0000000000\ntl=0000000000000000\nf=0000000000000002\n" +
		"ml=0000000000000020\nt=0000000000000000\nn=testnet\nmtu=0000000000000af0\nC=\x01\\0\x07\\0\\0\\0"
	tail := "\nRT=\x04\\n\x93\x11\\0\\0\x18\\0\\0\\0\\0\\0\nI=\x04\\n\x93\x11\x05\\0\x18\nR=\x01\\0\nDNS=" +
		strings.Repeat(`\0`, 132) + "\nssov=0000000000000000\nssoe=0"
	if !strings.HasPrefix(enc, head) || !strings.HasSuffix(enc, tail) {
		t.Errorf("dictionary differs from the spec example:\n%q", enc)
	}
	d, err := ParseDictionary([]byte(enc))
	if err != nil {
		t.Fatal(err)
	}
	for key, size := range map[string]int{"C": 272, "COO": 158, "DNS": 132, "RT": 12, "I": 7} {
		if v, _ := d.Get(key); len(v) != size {
			t.Errorf("%s is %d bytes, want %d", key, len(v), size)
		}
	}
	back, err := ParseNetworkConfig(d)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Errorf("round trip: %v\n got %+v\nwant %+v", err, back, c)
	}
}

// fullConfig uses every key, with signed credentials.
func fullConfig(t *testing.T) *NetworkConfig {
	ctl, za := loadIdentity(t, "controller"), loadIdentity(t, "za")
	c := &NetworkConfig{NetworkID: labNetwork, Timestamp: labTimestamp, CredentialTimeMaxDelta: labMaxDelta, Revision: 9,
		IssuedTo: labZA, RemoteTraceTarget: labZB, RemoteTraceLevel: 15,
		Flags: ConfigFlagEnableBroadcast | ConfigFlagNDPEmulation | ConfigFlagDisableCompression, MulticastLimit: 64,
		Type: NetworkPublic, Name: "a=b\nc\\d\x00", MTU: 1500,
		COM:         NewCOM(labTimestamp, labMaxDelta, labNetwork, za),
		Specialists: []uint64{SpecialistActiveBridge | uint64(labZB), SpecialistAnchor | SpecialistMulticastReplicator | 0x0102030405},
		Routes: []Route{
			{Target: netip.MustParsePrefix("10.147.20.0/24")},
			{Target: netip.MustParsePrefix("0.0.0.0/0"), Via: netip.MustParseAddr("10.147.20.1"), Flags: 1, Metric: 7},
			{Target: netip.MustParsePrefix("fd00::/8"), Via: netip.MustParseAddr("fd6a:65e3:3cf6:e2a3:8399:9320:3540:ed5f")},
		},
		StaticIPs: []netip.Prefix{netip.MustParsePrefix("fd6a:65e3:3cf6:e2a3:8399:9320:3540:ed5f/88"), netip.MustParsePrefix("10.147.20.249/24")},
		Rules:     hx(t, `a502 86dd 0000 2005 0a00000008 6804 00160016 020e 00000089e92ceee5 00000000 0080 0100`),
		DNS: DNS{Domain: "lab.example", Servers: []netip.AddrPort{netip.MustParseAddrPort("10.147.20.1:53"),
			netip.MustParseAddrPort("[fd00::1]:0")}},
		SSOVersion: 0, SSOEnabled: true, AuthURL: "https://auth.example/?a=1", AuthExpiry: 12345,
	}
	if err := c.COM.Sign(ctl); err != nil {
		t.Fatal(err)
	}
	for id := uint32(3); id > 0; id-- {
		cp := labCapability()
		cp.ID = id
		if err := cp.Sign(ctl, labZA); err != nil {
			t.Fatal(err)
		}
		c.Capabilities = append([]*Capability{cp}, c.Capabilities...)
		tg := labTag()
		tg.ID, tg.Value = id*10, id
		if err := tg.Sign(ctl); err != nil {
			t.Fatal(err)
		}
		c.Tags = append(c.Tags, tg) // descending: parsing sorts them
	}
	coo := &COO{NetworkID: labNetwork, Timestamp: labTimestamp, ID: 1, IssuedTo: labZA}
	for _, p := range c.StaticIPs {
		coo.AddIP(p.Addr())
	}
	if err := coo.Sign(ctl); err != nil {
		t.Fatal(err)
	}
	c.COOs = []*COO{coo}
	return c
}

func TestNetworkConfigRoundTrip(t *testing.T) {
	c := fullConfig(t)
	enc := c.Dictionary().Append(nil)
	back, err := ParseNetworkConfigBytes(enc)
	if err != nil {
		t.Fatal(err)
	}
	want := *c
	want.Tags = []*Tag{c.Tags[2], c.Tags[1], c.Tags[0]}
	if !reflect.DeepEqual(back, &want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, &want)
	}
	if again := back.Dictionary().Append(nil); bytes.Equal(again, enc) {
		t.Error("sorting the tags should have changed the encoding")
	}
	// SSO version 1 keys.
	c.SSOVersion, c.AuthURL, c.AuthExpiry = 1, "", 0
	c.IssuerURL, c.CentralURL, c.SSONonce, c.SSOState, c.SSOClientID, c.SSOProvider = "i", "c", "n", "s", "id", "default"
	d := c.Dictionary()
	if _, ok := d.Get("aurl"); ok || d[len(d)-1].Key != "ssop" {
		t.Errorf("SSO v1 keys: %v", d[len(d)-7:])
	}
	back, err = ParseNetworkConfig(d)
	if err != nil || back.IssuerURL != "i" || back.SSOProvider != "default" || back.SSONonce != "n" {
		t.Errorf("SSO v1: %v %+v", err, back)
	}
}

// setKey returns d with key's value replaced (or appended).
func setKey(d Dictionary, key string, v []byte) Dictionary {
	out := append(Dictionary(nil), d...)
	for i := range out {
		if out[i].Key == key {
			out[i] = DictEntry{Key: key, Value: v}
			return out
		}
	}
	return append(out, DictEntry{Key: key, Value: v})
}

func dropKey(d Dictionary, key string) Dictionary {
	var out Dictionary
	for _, e := range d {
		if e.Key != key {
			out = append(out, e)
		}
	}
	return out
}

func TestParseNetworkConfigRules(t *testing.T) {
	c := fullConfig(t)
	base := c.Dictionary()
	hex16 := func(v uint64) []byte { var d Dictionary; d.AddUint64("x", v); return d[0].Value }

	for name, d := range map[string]Dictionary{
		"no v":          dropKey(base, "v"),
		"v5":            setKey(base, "v", hex16(5)),
		"no nwid":       dropKey(base, "nwid"),
		"zero nwid":     setKey(base, "nwid", hex16(0)),
		"no id":         dropKey(base, "id"),
		"zero id":       setKey(base, "id", []byte("0000000000")),
		"bad COM":       setKey(base, "C", []byte{0x02, 0}),
		"bad COO":       setKey(base, "COO", []byte{1, 2, 3}),
		"bad route":     setKey(base, "RT", []byte{0x04, 1, 2}),
		"bad static IP": setKey(base, "I", []byte{0x09}),
		"cut rule":      setKey(base, "R", []byte{0x01, 0x00, 0x20, 0x05, 0x0a}),
		"short DNS":     setKey(base, "DNS", make([]byte, 131)),
	} {
		if _, err := ParseNetworkConfig(d); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	parse := func(d Dictionary) *NetworkConfig {
		t.Helper()
		c, err := ParseNetworkConfig(d)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := parse(setKey(base, "v", hex16(6))); c.NetworkID != labNetwork {
		t.Error("v6 not accepted")
	}
	for v, want := range map[string]int{"": 2800, "0": 1280, "4ff": 1280, "500": 1280, "af0": 2800, "2710": 10000, "2711": 10000, "100000af0": 2800} {
		if c := parse(setKey(base, "mtu", []byte(v))); c.MTU != want {
			t.Errorf("mtu %q gives %d, want %d", v, c.MTU, want)
		}
	}
	if c := parse(dropKey(base, "mtu")); c.MTU != DefaultMTU {
		t.Errorf("absent mtu gives %d", c.MTU)
	}
	if c := parse(dropKey(dropKey(base, "R"), "t")); c.Rules != nil || c.Type != NetworkPrivate {
		t.Errorf("absent R and t: %x %d", c.Rules, c.Type)
	}
	if c := parse(setKey(base, "id", []byte("ff203540ed5f"))); c.IssuedTo != labZA {
		t.Errorf("id beyond 40 bits: %v", c.IssuedTo)
	}
	if c := parse(setKey(base, "n", bytes.Repeat([]byte("x"), 200))); len(c.Name) != MaxNetworkNameLength {
		t.Errorf("name of %d bytes", len(c.Name))
	}
	// A capability or tag that does not decode ends its list.
	caps, _ := base.Get("CAP")
	if c := parse(setKey(base, "CAP", append(bytes.Clone(caps[:141]), 0xff))); len(c.Capabilities) != 1 {
		t.Errorf("%d capabilities before a broken one", len(c.Capabilities))
	}
	tags, _ := base.Get("TAG")
	if c := parse(setKey(base, "TAG", tags[:135+10])); len(c.Tags) != 1 {
		t.Errorf("%d tags before a broken one", len(c.Tags))
	}
	// Lists beyond their limits are cut.
	coo, _ := base.Get("COO")
	var b []byte
	for range 6 {
		b = append(b, coo...)
	}
	if c := parse(setKey(base, "COO", b)); len(c.COOs) != MaxNetworkCOOs {
		t.Errorf("%d COOs", len(c.COOs))
	}
	b = nil
	for range 300 {
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 1)
	}
	if c := parse(setKey(base, "S", append(b, 1, 2, 3))); len(c.Specialists) != MaxNetworkSpecialists {
		t.Errorf("%d specialists", len(c.Specialists))
	}
	routes := make([]Route, 130)
	ips := make([]netip.Prefix, 40)
	for i := range routes {
		routes[i].Target = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16)
	}
	for i := range ips {
		ips[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 8)
	}
	big := *c
	big.Routes, big.StaticIPs, big.Rules = routes, ips, bytes.Repeat([]byte{0x01, 0x00}, 1100)
	got := parse(big.Dictionary())
	if len(got.Routes) != MaxNetworkRoutes || len(got.StaticIPs) != MaxStaticIPs || len(got.Rules) != 2*MaxNetworkRules ||
		!reflect.DeepEqual(got.Routes, routes[:MaxNetworkRoutes]) {
		t.Errorf("%d routes, %d static IPs, %d rule bytes", len(got.Routes), len(got.StaticIPs), len(got.Rules))
	}
	// Without ssoe the SSO strings are not read.
	if c := parse(setKey(base, "ssoe", []byte("0"))); c.SSOEnabled || c.AuthURL != "" || c.AuthExpiry != 0 {
		t.Errorf("SSO disabled: %+v", c)
	}
	// DNS: the domain's last byte is forced to NUL; unused servers dropped.
	dns := appendDNS(nil, DNS{Domain: strings.Repeat("d", 200)})
	if len(dns) != 132 || dns[127] != 0 {
		t.Errorf("DNS blob %d bytes", len(dns))
	}
	dns[127] = 'x'
	if c := parse(setKey(base, "DNS", dns)); len(c.DNS.Domain) != 127 || c.DNS.Servers != nil {
		t.Errorf("DNS %+v", c.DNS)
	}
}

func TestSpecialist(t *testing.T) {
	a, role := Specialist(SpecialistActiveBridge | uint64(labZB))
	if a != labZB || role != SpecialistActiveBridge {
		t.Errorf("%v %x", a, role)
	}
	if (&NetworkConfig{Type: NetworkPublic}).IsPublic() == (&NetworkConfig{}).IsPublic() {
		t.Error("IsPublic")
	}
}

// TestParseNetworkConfigTruncated cuts the encoded config at every offset:
// never a panic, and every error wraps ErrMalformed.
func TestParseNetworkConfigTruncated(t *testing.T) {
	enc := fullConfig(t).Dictionary().Append(nil)
	for n := range len(enc) {
		if _, err := ParseNetworkConfigBytes(enc[:n]); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
}
