package vl1

import "net/netip"

// IPScope classifies an address as 1.14.1's InetAddress::ipScope does
// (vl1-peers.md §4.5); larger is better for path choice.
type IPScope uint8

// IP scopes, with 1.14.1's numeric values.
const (
	ScopeNone          IPScope = 0
	ScopeMulticast     IPScope = 1
	ScopeLoopback      IPScope = 2
	ScopePseudoPrivate IPScope = 3
	ScopeGlobal        IPScope = 4
	ScopeLinkLocal     IPScope = 5
	ScopeShared        IPScope = 6
	ScopePrivate       IPScope = 7
)

var scopes4 = []struct {
	p netip.Prefix
	s IPScope
}{
	{netip.MustParsePrefix("0.0.0.0/8"), ScopeNone},
	{netip.MustParsePrefix("6.0.0.0/8"), ScopePseudoPrivate},
	{netip.MustParsePrefix("11.0.0.0/8"), ScopePseudoPrivate},
	{netip.MustParsePrefix("21.0.0.0/8"), ScopePseudoPrivate},
	{netip.MustParsePrefix("22.0.0.0/8"), ScopePseudoPrivate},
	{netip.MustParsePrefix("25.0.0.0/8"), ScopePseudoPrivate},
	{netip.MustParsePrefix("26.0.0.0/8"), ScopePseudoPrivate},
	{netip.MustParsePrefix("28.0.0.0/8"), ScopePseudoPrivate},
	{netip.MustParsePrefix("29.0.0.0/8"), ScopePseudoPrivate},
	{netip.MustParsePrefix("30.0.0.0/8"), ScopePseudoPrivate},
	{netip.MustParsePrefix("51.0.0.0/8"), ScopePseudoPrivate},
	{netip.MustParsePrefix("55.0.0.0/8"), ScopePseudoPrivate},
	{netip.MustParsePrefix("56.0.0.0/8"), ScopePseudoPrivate},
	{netip.MustParsePrefix("10.0.0.0/8"), ScopePrivate},
	{netip.MustParsePrefix("100.64.0.0/10"), ScopePrivate},
	{netip.MustParsePrefix("127.0.0.0/8"), ScopeLoopback},
	{netip.MustParsePrefix("169.254.0.0/16"), ScopeLinkLocal},
	{netip.MustParsePrefix("172.16.0.0/12"), ScopePrivate},
	{netip.MustParsePrefix("192.168.0.0/16"), ScopePrivate},
	{netip.MustParsePrefix("192.0.2.0/24"), ScopePrivate},
	{netip.MustParsePrefix("198.18.0.0/15"), ScopePrivate},
	{netip.MustParsePrefix("198.51.100.0/24"), ScopePrivate},
	{netip.MustParsePrefix("203.0.113.0/24"), ScopePrivate},
	{netip.MustParsePrefix("255.0.0.0/8"), ScopeNone},
	{netip.MustParsePrefix("224.0.0.0/4"), ScopeMulticast},
	{netip.MustParsePrefix("240.0.0.0/4"), ScopePseudoPrivate},
}

var (
	pfxMulticast6 = netip.MustParsePrefix("ff00::/8")
	pfxLinkLocal6 = netip.MustParsePrefix("fe80::/10")
	pfxPrivate6   = netip.MustParsePrefix("fc00::/7")
	pfxHE6        = netip.MustParsePrefix("2001:470::/32")
	fe80one       = netip.MustParseAddr("fe80::1")
)

// ScopeOf returns the scope of ip.
func ScopeOf(ip netip.Addr) IPScope {
	if ip.Is4In6() {
		if ip.Unmap().As4()[0] == 127 {
			return ScopeLoopback
		}
	}
	ip = ip.Unmap()
	if ip.Is4() {
		for _, e := range scopes4 {
			if e.p.Contains(ip) {
				return e.s
			}
		}
		return ScopeGlobal
	}
	switch {
	case !ip.IsValid():
		return ScopeNone
	case pfxMulticast6.Contains(ip):
		return ScopeMulticast
	case ip == fe80one:
		return ScopeLoopback
	case pfxLinkLocal6.Contains(ip):
		return ScopeLinkLocal
	case pfxPrivate6.Contains(ip):
		return ScopePrivate
	case ip == netip.IPv6Loopback():
		return ScopeLoopback
	case ip == netip.IPv6Unspecified():
		return ScopeNone
	}
	return ScopeGlobal
}

// usableAddress is rule 1 of shouldUsePathForZeroTierTraffic: scopes that
// may carry ZeroTier, minus Hurricane Electric tunnels.
func usableAddress(ip netip.Addr) bool {
	switch ScopeOf(ip) {
	case ScopePrivate, ScopePseudoPrivate, ScopeShared, ScopeGlobal:
		return !(ip.Is6() && !ip.Is4In6() && pfxHE6.Contains(ip))
	}
	return false
}
