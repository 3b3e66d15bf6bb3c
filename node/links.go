package node

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	transport "github.com/ztgo/ztgo/layer0-transport"
	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Binding to links (service-api.md §11.3, spec/links.md): settings.bind
// lists local addresses to bind instead of the wildcard;
// settings.interfacePrefixBlacklist names interfaces never used; and the
// ztgo extension settings.bindInterfaces binds every usable interface
// address. ZeroTierOne 1.14.1 always binds per interface; ztgo keeps the
// wildcard unless one of these asks otherwise, because a wildcard socket
// serves loopback demos and hosts whose addresses change without a rescan.

// linkSettings reads the three settings from local.conf's settings object;
// the error is one line saying which entry is wrong and how to write it.
func linkSettings(s map[string]any) (bind []netip.Addr, deny []string, err error) {
	if v, ok := s["bind"]; ok && v != nil {
		list, isList := v.([]any)
		if !isList {
			return nil, nil, fmt.Errorf(`settings.bind must be an array of local IP addresses, e.g. ["198.18.0.2"]`)
		}
		for i, e := range list {
			str, _ := e.(string)
			a, perr := parseBindAddr(str)
			if perr != nil {
				return nil, nil, fmt.Errorf(`settings.bind[%d] %v is not an IP address; write a local address such as "198.18.0.2" or "2001:db8::2"`, i, jsonValue(e))
			}
			bind = append(bind, a)
		}
	}
	if v, ok := s["interfacePrefixBlacklist"]; ok && v != nil {
		list, isList := v.([]any)
		if !isList {
			return nil, nil, fmt.Errorf(`settings.interfacePrefixBlacklist must be an array of interface name prefixes, e.g. ["docker", "veth"]`)
		}
		for i, e := range list {
			str, isStr := e.(string)
			if !isStr {
				return nil, nil, fmt.Errorf(`settings.interfacePrefixBlacklist[%d] %v is not a string; write an interface name prefix such as "docker"`, i, jsonValue(e))
			}
			if str != "" { // 1.14.1 skips empty entries: they would deny every interface
				deny = append(deny, str)
			}
		}
	}
	return bind, deny, nil
}

// physicalBlacklist reads local.conf's physical networks marked
// "blacklist": true; 1.14.1 binds no local address inside them.
func physicalBlacklist(raw map[string]any) ([]netip.Prefix, error) {
	phys, _ := raw["physical"].(map[string]any)
	var out []netip.Prefix
	for k, v := range phys {
		e, _ := v.(map[string]any)
		if on, _ := e["blacklist"].(bool); !on {
			continue
		}
		p, err := netip.ParsePrefix(strings.TrimSpace(k))
		if err != nil || p.Bits() == 0 {
			return nil, fmt.Errorf(`physical %q is blacklisted but is not a network with a prefix length above 0; write a CIDR such as "10.0.0.0/8"`, k)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// 1.14.1's physical path MTU limits (ZT_MIN_PHYSMTU, ZT_MAX_PHYSMTU) and
// how many physical networks it keeps (ZT_MAX_CONFIGURABLE_PATHS).
const (
	minPhysMTU           = 1400
	maxPhysMTU           = 10100 + 224
	maxConfigurablePaths = 32
)

// physicalMTU reads physical.<cidr>.mtu as OneService and Topology do:
// every entry that names an address (with or without /bits) takes part,
// its mtu clamped to 1400..10324 and 0 or absent meaning 1432, and an
// address is given the MTU of the first entry containing it, entries
// ordered by family and then prefix length (InetAddress's order puts the
// length first, so the widest network wins). Only the first 32 count.
// The networks are rewritten so that netip's Contains agrees with
// InetAddress::containsAddress: an IPv4 /0 holds every IPv4 address, an
// IPv6 entry with host bits set holds none.
func physicalMTU(raw map[string]any) []vl1.PhysicalMTU {
	phys, _ := raw["physical"].(map[string]any)
	type entry struct {
		p   netip.Prefix
		mtu int
	}
	var es []entry
	for k, v := range phys {
		e, ok := v.(map[string]any)
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		p, err := netip.ParsePrefix(k)
		if err != nil {
			a, err := netip.ParseAddr(k)
			if err != nil {
				continue
			}
			p = netip.PrefixFrom(a, 0)
		}
		mtu, _ := e["mtu"].(float64)
		m := int(mtu)
		switch {
		case m <= 0:
			m = wire.DefaultPhysMTU
		case m < minPhysMTU:
			m = minPhysMTU
		case m > maxPhysMTU:
			m = maxPhysMTU
		}
		es = append(es, entry{p, m})
	}
	slices.SortFunc(es, func(x, y entry) int {
		if c := cmp.Compare(b2i(x.p.Addr().Is6()), b2i(y.p.Addr().Is6())); c != 0 {
			return c
		}
		if c := cmp.Compare(x.p.Bits(), y.p.Bits()); c != 0 {
			return c
		}
		return x.p.Addr().Compare(y.p.Addr())
	})
	var out []vl1.PhysicalMTU
	for i, e := range es {
		if i == maxConfigurablePaths {
			break
		}
		p := e.p
		if p.Addr().Is6() && p.Masked() != p {
			continue // 1.14.1 compares the masked address with the unmasked network: no match
		}
		out = append(out, vl1.PhysicalMTU{Network: p.Masked(), MTU: e.mtu})
	}
	return out
}

// parseBindAddr reads "ip" or 1.14.1's "ip/port" (the port is ignored:
// every bound port is used on each address).
func parseBindAddr(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if ap, err := transport.ParseAddrPort(s); err == nil && strings.Contains(s, "/") {
		return ap.Addr(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("not an IP address")
	}
	return a.Unmap(), nil
}

func jsonValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

// linkOptions turns the settings into the transport's options: per-link
// sockets when bind is given, when interfaces are denied (the wildcard
// cannot honour a deny list), when bindInterfaces is true, or when a bond
// is configured (unless bindInterfaces is false): a bond's links are the
// interfaces, and over the wildcard every path would be on one. While
// bonding, 1.14.1 rescans every 7.5 s (ZT_BINDER_REFRESH_PERIOD / 4), so a
// link that comes back is bound again soon.
func (c *LocalConf) linkOptions() transport.LinkOptions {
	o := transport.LinkOptions{Addrs: c.Bind, DenyPrefixes: c.InterfaceDeny}
	bonding := c.Bonding.InUse()
	o.Interfaces = len(c.InterfaceDeny) > 0 || boolOr(c.Settings.BindInterfaces, bonding)
	if bonding {
		o.Rescan = transport.DefaultRescan / 4
	}
	if deny := c.PhysicalBlacklist; len(deny) > 0 {
		o.Skip = func(a netip.Addr) bool {
			for _, p := range deny {
				if p.Contains(a) {
					return true
				}
			}
			return false
		}
	}
	return o
}
