package vl2wire

import (
	"bytes"
	"net/netip"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Route is one managed route of a network config (vl2.md §3.2): Target is
// reachable via the gateway Via, or on the ZeroTier link itself when Via is
// the zero Addr. The 1.14.1 controller always sends Flags and Metric 0.
type Route struct {
	Target netip.Prefix
	Via    netip.Addr
	Flags  uint16
	Metric uint16
}

// DNS is the DNS configuration a controller pushes: a search domain and up
// to four servers. A config with an empty Domain has no DNS.
type DNS struct {
	Domain  string
	Servers []netip.AddrPort
}

// DNS blob layout (DNS::serializeDNS).
const (
	dnsDomainLength = 128
	dnsServerCount  = 4
)

// prefixOf turns an InetAddress whose port carries a prefix length into a
// Prefix. A length beyond the family's size cannot be represented and is
// capped; the reference would carry it as is, but no controller sends one.
func prefixOf(ap netip.AddrPort) netip.Prefix {
	if !ap.Addr().IsValid() {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap()
	return netip.PrefixFrom(ip, min(int(ap.Port()), ip.BitLen()))
}

// appendPrefix writes a Prefix as an InetAddress with the prefix length in
// the port field; the zero Prefix is the null record.
func appendPrefix(b []byte, p netip.Prefix) []byte {
	if !p.IsValid() {
		return wire.AppendInetAddress(b, netip.AddrPort{})
	}
	return wire.AppendInetAddress(b, netip.AddrPortFrom(p.Addr(), uint16(p.Bits())))
}

// parseRoutes decodes an RT blob, keeping at most max routes; what follows
// the last kept route is not read, as in the reference.
func parseRoutes(b []byte, limit int) ([]Route, error) {
	r := newReader(b, "routes")
	var out []Route
	for r.Err() == nil && r.Left() > 0 && len(out) < limit {
		rt := Route{Target: prefixOf(r.InetAddress("route target"))}
		rt.Via = r.InetAddress("route via").Addr().Unmap()
		rt.Flags, rt.Metric = r.U16("route flags"), r.U16("route metric")
		if r.Err() == nil {
			out = append(out, rt)
		}
	}
	return out, r.Err()
}

func appendRoutes(b []byte, routes []Route) []byte {
	for _, rt := range routes {
		b = appendPrefix(b, rt.Target)
		via := netip.AddrPort{}
		if rt.Via.IsValid() {
			via = netip.AddrPortFrom(rt.Via, 0)
		}
		b = wire.AppendInetAddress(b, via)
		b = appendU16(appendU16(b, rt.Flags), rt.Metric)
	}
	return b
}

// parseStaticIPs decodes an I blob, keeping at most limit addresses.
func parseStaticIPs(b []byte, limit int) ([]netip.Prefix, error) {
	r := newReader(b, "static IPs")
	var out []netip.Prefix
	for r.Err() == nil && r.Left() > 0 && len(out) < limit {
		p := prefixOf(r.InetAddress("static IP"))
		if r.Err() == nil {
			out = append(out, p)
		}
	}
	return out, r.Err()
}

func appendStaticIPs(b []byte, ips []netip.Prefix) []byte {
	for _, p := range ips {
		b = appendPrefix(b, p)
	}
	return b
}

// parseDNS decodes the DNS blob: a NUL-padded 128-byte domain whose last
// byte the reference forces to NUL, then four servers (null records for
// unused slots, which are dropped here).
func parseDNS(b []byte) (DNS, error) {
	r := newReader(b, "DNS")
	var d DNS
	dom := r.Take(dnsDomainLength, "domain")
	if dom != nil {
		dom = dom[:dnsDomainLength-1]
		if i := bytes.IndexByte(dom, 0); i >= 0 {
			dom = dom[:i]
		}
		d.Domain = string(dom)
	}
	for i := range dnsServerCount {
		if ap := r.InetAddress("DNS server " + string(rune('0'+i))); ap.Addr().IsValid() {
			d.Servers = append(d.Servers, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		}
	}
	return d, r.Err()
}

// appendDNS writes the DNS blob (132 bytes when empty); a domain longer
// than 127 bytes is cut, and servers beyond four are dropped.
func appendDNS(b []byte, d DNS) []byte {
	var dom [dnsDomainLength]byte
	copy(dom[:dnsDomainLength-1], d.Domain)
	b = append(b, dom[:]...)
	for i := range dnsServerCount {
		var ap netip.AddrPort
		if i < len(d.Servers) {
			ap = d.Servers[i]
		}
		b = wire.AppendInetAddress(b, ap)
	}
	return b
}
