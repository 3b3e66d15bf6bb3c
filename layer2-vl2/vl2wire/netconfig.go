package vl2wire

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// Network types (key t).
const (
	NetworkPrivate = 0 // members need a COM that agrees with ours
	NetworkPublic  = 1 // anyone may talk; COMs are still issued
)

// Network config flags (key f, vl2.md §3.2). ConfigFlagFastPropagate is a
// chunk flag, not one of these.
const (
	ConfigFlagEnableBroadcast    = 0x02 // deliver ff:ff:ff:ff:ff:ff (other than ARP)
	ConfigFlagNDPEmulation       = 0x04 // answer NDP for rfc4193/6plane addresses locally
	ConfigFlagUnsupportedMatch   = 0x08 // unknown MATCH rule types match
	ConfigFlagDisableCompression = 0x10 // do not compress multicast frames
)

// Specialist role bits of an S entry; the member's address is the low 40
// bits.
const (
	SpecialistActiveBridge        uint64 = 0x0000020000000000 // may bridge; gets all multicasts
	SpecialistAnchor              uint64 = 0x0000040000000000 // always contacted; gets LIKEs and GATHERs
	SpecialistMulticastReplicator uint64 = 0x0000080000000000 // replicates multicasts for senders
)

// Network config limits and defaults (vl2.md §3.2–3.3).
const (
	NetworkConfigVersion  = 7 // what 1.14.1 writes
	minNetworkConfigVer   = 6 // older (legacy) configs are not understood
	DefaultMTU            = 2800
	MinMTU                = 1280
	MaxMTU                = 10000
	MaxNetworkNameLength  = 127
	MaxNetworkRules       = 1024
	MaxNetworkCaps        = 128
	MaxNetworkTags        = 128
	MaxNetworkCOOs        = 4
	MaxNetworkSpecialists = 256
	MaxNetworkRoutes      = 128
	MaxStaticIPs          = 32
	// NetworkConfigCapacity is the reference's dictionary buffer on 64-bit
	// Linux, including the NUL it adds; a config must be shorter.
	NetworkConfigCapacity = 484520
)

// NetworkConfig is a network configuration as a controller issues it and a
// member applies it (the dictionary of vl2.md §3.2).
//
// Rules is the raw R blob (package rules decodes it): nil means the key was
// absent, which is zero rules and so drops everything. COM, Capabilities,
// Tags and COOs are this member's own credentials. The SSO fields exist so
// that a config from a controller with SSO round-trips; only ZeroTier
// Central uses them.
type NetworkConfig struct {
	NetworkID              uint64
	Timestamp              int64
	CredentialTimeMaxDelta int64
	Revision               uint64
	IssuedTo               identity.Address
	RemoteTraceTarget      identity.Address
	RemoteTraceLevel       uint64
	Flags                  uint64
	MulticastLimit         uint64
	Type                   uint64
	Name                   string
	MTU                    int

	COM          *COM
	Capabilities []*Capability
	Tags         []*Tag
	COOs         []*COO
	Specialists  []uint64
	Routes       []Route
	StaticIPs    []netip.Prefix
	Rules        []byte
	DNS          DNS

	SSOVersion uint64
	SSOEnabled bool
	AuthURL    string // version 0
	AuthExpiry uint64 // version 0
	// Version 1 (OIDC).
	IssuerURL, CentralURL, SSONonce, SSOState, SSOClientID, SSOProvider string
}

// ssoV1Keys are the version 1 SSO keys in the order they are written,
// paired with their fields.
func (c *NetworkConfig) ssoV1Keys() [6]struct {
	key string
	v   *string
} {
	return [6]struct {
		key string
		v   *string
	}{{"iurl", &c.IssuerURL}, {"ssoce", &c.CentralURL}, {"sson", &c.SSONonce},
		{"ssos", &c.SSOState}, {"ssocid", &c.SSOClientID}, {"ssop", &c.SSOProvider}}
}

// Dictionary encodes the config as NetworkConfig::toDictionary does: the
// scalar keys, then each binary blob only when non-empty (DNS always), then
// the SSO keys. The name is cut to 127 bytes and the MTU defaulted (0 →
// 2800) and clamped, as the reference holds them.
func (c *NetworkConfig) Dictionary() Dictionary {
	d := make(Dictionary, 0, 24)
	d.AddUint64("v", NetworkConfigVersion)
	d.AddUint64("nwid", c.NetworkID)
	d.AddUint64("ts", uint64(c.Timestamp))
	d.AddUint64("ctmd", uint64(c.CredentialTimeMaxDelta))
	d.AddUint64("r", c.Revision)
	d.AddString("id", c.IssuedTo.String())
	d.AddString("tt", c.RemoteTraceTarget.String())
	d.AddUint64("tl", c.RemoteTraceLevel)
	d.AddUint64("f", c.Flags)
	d.AddUint64("ml", c.MulticastLimit)
	d.AddUint64("t", c.Type)
	name := c.Name
	if len(name) > MaxNetworkNameLength {
		name = name[:MaxNetworkNameLength]
	}
	d.AddString("n", name)
	d.AddUint64("mtu", uint64(clampMTU(uint64(c.MTU), c.MTU != 0)))

	addBlob := func(key string, b []byte) {
		if len(b) > 0 {
			d.Add(key, b)
		}
	}
	if c.COM != nil {
		d.Add("C", c.COM.Append(nil))
	}
	var b []byte
	for _, x := range c.Capabilities {
		b = x.Append(b)
	}
	addBlob("CAP", b)
	b = nil
	for _, x := range c.Tags {
		b = x.Append(b)
	}
	addBlob("TAG", b)
	b = nil
	for _, x := range c.COOs {
		b = x.Append(b)
	}
	addBlob("COO", b)
	b = nil
	for _, s := range c.Specialists {
		b = appendU64(b, s)
	}
	addBlob("S", b)
	addBlob("RT", appendRoutes(nil, c.Routes))
	addBlob("I", appendStaticIPs(nil, c.StaticIPs))
	addBlob("R", c.Rules)
	d.Add("DNS", appendDNS(nil, c.DNS))

	d.AddUint64("ssov", c.SSOVersion)
	d.AddBool("ssoe", c.SSOEnabled)
	if c.SSOEnabled {
		switch c.SSOVersion {
		case 0:
			if c.AuthURL != "" {
				d.AddString("aurl", c.AuthURL)
			}
			d.AddUint64("aexpt", c.AuthExpiry)
		case 1:
			for _, k := range c.ssoV1Keys() {
				d.AddString(k.key, *k.v)
			}
		}
	}
	return d
}

// clampMTU applies the default (when the key is absent) and the [1280,
// 10000] bounds. The reference reads the value into an unsigned int first.
func clampMTU(v uint64, present bool) int {
	if !present {
		return DefaultMTU
	}
	return int(min(max(uint32(v), MinMTU), MaxMTU))
}

// ParseNetworkConfig reads a config dictionary by the rules of
// NetworkConfig::fromDictionary (vl2.md §3.3): v below 6 and a missing or
// zero nwid or id are invalid; the MTU defaults to 2800 and is clamped; a
// COM, COO, route, static IP, rule or DNS blob that does not decode makes
// the config invalid, while a capability or tag that does not decode just
// ends its list; lists beyond their limits are cut; capabilities and tags
// are sorted by ID. All errors wrap ErrMalformed. Blobs alias d's values.
func ParseNetworkConfig(d Dictionary) (*NetworkConfig, error) {
	bad := func(format string, args ...any) (*NetworkConfig, error) {
		return nil, fmt.Errorf("%w: network config: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	u64 := func(key string) uint64 { v, _ := d.GetUint64(key); return v }
	if v := u64("v"); v < minNetworkConfigVer {
		return bad("format version %d (legacy configs are not supported)", v)
	}
	c := &NetworkConfig{
		NetworkID:              u64("nwid"),
		Timestamp:              int64(u64("ts")),
		CredentialTimeMaxDelta: int64(u64("ctmd")),
		Revision:               u64("r"),
		IssuedTo:               identity.Address(u64("id") & 0xffffffffff),
		RemoteTraceTarget:      identity.Address(u64("tt") & 0xffffffffff),
		RemoteTraceLevel:       u64("tl"),
		Flags:                  u64("f"),
		MulticastLimit:         u64("ml"),
		Type:                   u64("t"),
	}
	if c.NetworkID == 0 {
		return bad("no network ID")
	}
	if c.IssuedTo == 0 {
		return bad("no issued-to address")
	}
	mtu, ok := d.GetUint64("mtu")
	c.MTU = clampMTU(mtu, ok)
	c.Name, _ = d.GetString("n")
	if len(c.Name) > MaxNetworkNameLength {
		c.Name = c.Name[:MaxNetworkNameLength]
	}
	if err := c.parseCredentials(d); err != nil {
		return nil, err
	}
	if err := c.parseBlobs(d); err != nil {
		return nil, err
	}
	c.SSOEnabled, _ = d.GetBool("ssoe")
	c.SSOVersion = u64("ssov")
	if c.SSOEnabled {
		switch c.SSOVersion {
		case 0:
			c.AuthURL, _ = d.GetString("aurl")
			c.AuthExpiry = u64("aexpt")
		case 1:
			for _, k := range c.ssoV1Keys() {
				*k.v, _ = d.GetString(k.key)
			}
		}
	}
	return c, nil
}

// ParseNetworkConfigBytes parses a serialized config dictionary (the bytes
// a ConfigAssembler returns) with ParseDictionary and ParseNetworkConfig.
func ParseNetworkConfigBytes(b []byte) (*NetworkConfig, error) {
	d, err := ParseDictionary(b)
	if err != nil {
		return nil, err
	}
	return ParseNetworkConfig(d)
}

func (c *NetworkConfig) parseCredentials(d Dictionary) error {
	if b, ok := d.Get("C"); ok && len(b) > 0 {
		com, _, err := ParseCOM(b)
		if err != nil {
			return fmt.Errorf("network config C: %w", err)
		}
		c.COM = com
	}
	c.Capabilities = parseList(d, "CAP", MaxNetworkCaps, ParseCapability)
	slices.SortStableFunc(c.Capabilities, func(a, b *Capability) int { return cmp.Compare(a.ID, b.ID) })
	c.Tags = parseList(d, "TAG", MaxNetworkTags, ParseTag)
	slices.SortStableFunc(c.Tags, func(a, b *Tag) int { return cmp.Compare(a.ID, b.ID) })
	// Every COO must decode, though only the first four are kept.
	b, _ := d.Get("COO")
	for p := 0; p < len(b); {
		coo, n, err := ParseCOO(b[p:])
		if err != nil {
			return fmt.Errorf("network config COO: %w", err)
		}
		if len(c.COOs) < MaxNetworkCOOs {
			c.COOs = append(c.COOs, coo)
		}
		p += n
	}
	return nil
}

// parseList reads concatenated credentials until the blob ends, one does
// not decode, or limit are read.
func parseList[T any](d Dictionary, key string, limit int, parse func([]byte) (*T, int, error)) []*T {
	b, _ := d.Get(key)
	var out []*T
	for p := 0; p < len(b) && len(out) < limit; {
		v, n, err := parse(b[p:])
		if err != nil {
			break
		}
		out = append(out, v)
		p += n
	}
	return out
}

func (c *NetworkConfig) parseBlobs(d Dictionary) error {
	var err error
	if b, ok := d.Get("S"); ok {
		for p := 0; p+8 <= len(b) && len(c.Specialists) < MaxNetworkSpecialists; p += 8 {
			c.Specialists = append(c.Specialists, binary.BigEndian.Uint64(b[p:]))
		}
	}
	if b, ok := d.Get("RT"); ok {
		if c.Routes, err = parseRoutes(b, MaxNetworkRoutes); err != nil {
			return err
		}
	}
	if b, ok := d.Get("I"); ok {
		if c.StaticIPs, err = parseStaticIPs(b, MaxStaticIPs); err != nil {
			return err
		}
	}
	if b, ok := d.Get("R"); ok && len(b) > 0 {
		if c.Rules, err = firstRules(b, MaxNetworkRules); err != nil {
			return err
		}
	}
	if b, ok := d.Get("DNS"); ok {
		if c.DNS, err = parseDNS(b); err != nil {
			return err
		}
	}
	return nil
}

// firstRules returns the prefix of a rule blob holding at most limit rules;
// the reference stops reading there.
func firstRules(b []byte, limit int) ([]byte, error) {
	r := newReader(b, "rules")
	for n := 0; n < limit && r.Left() > 0 && r.Err() == nil; n++ {
		skipRule(r)
	}
	if r.Err() != nil {
		return nil, r.Err()
	}
	return b[:r.Off():r.Off()], nil
}

// Specialist returns the address of a specialist entry and its role bits.
func Specialist(entry uint64) (identity.Address, uint64) {
	return identity.Address(entry & 0xffffffffff), entry &^ 0xffffffffff
}

// IsPublic reports whether the network admits members without a COM check.
func (c *NetworkConfig) IsPublic() bool { return c.Type == NetworkPublic }
