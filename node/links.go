package node

import (
	"fmt"
	"net/netip"
	"strings"

	transport "github.com/ztgo/ztgo/layer0-transport"
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
