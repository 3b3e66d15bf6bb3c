package controller

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

type route struct {
	target netip.Prefix
	via    netip.Addr
}

func routesOf(netw record) []route {
	var out []route
	for _, e := range anySlice(netw["routes"]) {
		o, _ := e.(map[string]any)
		p, err := netip.ParsePrefix(str(o["target"]))
		if err != nil || len(out) >= 128 {
			continue
		}
		r := route{target: p}
		if v, err := netip.ParseAddr(str(o["via"])); err == nil && v.Is4() == p.Addr().Is4() {
			r.via = v
		}
		out = append(out, r)
	}
	return out
}

// assignAddresses fills routes and static IPs (controller.md §8.6),
// allocating from the pools into the member record.
func (c *Controller) assignAddresses(cfg *vl2wire.NetworkConfig, netw, m record, a identity.Address) {
	routes := routesOf(netw)
	for _, r := range routes {
		cfg.Routes = append(cfg.Routes, vl2wire.Route{Target: r.target, Via: r.via})
	}
	noAuto := toBool(m["noAutoAssignIps"], false)
	v6 := map[string]any{}
	if o, ok := netw["v6AssignMode"].(map[string]any); ok {
		v6 = o
	}
	if !noAuto {
		if toBool(v6["rfc4193"], false) {
			cfg.StaticIPs = append(cfg.StaticIPs, rfc4193(cfg.NetworkID, a))
			cfg.Flags |= vl2wire.ConfigFlagNDPEmulation
		}
		if toBool(v6["6plane"], false) {
			cfg.StaticIPs = append(cfg.StaticIPs, sixPlane(cfg.NetworkID, a))
			cfg.Flags |= vl2wire.ConfigFlagNDPEmulation
		}
	}
	has4, has6 := false, false
	assigned := anySlice(m["ipAssignments"])
	for _, e := range assigned {
		ip, err := netip.ParseAddr(str(e))
		if err != nil {
			continue
		}
		bits := -1
		for _, r := range routes {
			if r.target.Contains(ip) && r.target.Bits() > bits {
				bits = r.target.Bits()
			}
		}
		if bits < 0 {
			continue // not covered by a route: kept in the record, not sent
		}
		cfg.StaticIPs = append(cfg.StaticIPs, netip.PrefixFrom(ip, bits))
		if ip.Is4() {
			has4 = true
		} else {
			has6 = true
		}
	}
	v4, _ := netw["v4AssignMode"].(map[string]any)
	pick6 := !noAuto && !has6 && toBool(v6["zt"], false)
	pick4 := !noAuto && !has4 && toBool(v4["zt"], false)
	// Only a member that still needs an address makes us learn every other
	// member's: a refresh must not scan the whole network.
	if pick6 || pick4 {
		assigned = c.pickAddresses(cfg, netw, routes, assigned, a, pick6, pick4)
	}
	m["ipAssignments"] = orEmpty(assigned)
	if len(cfg.StaticIPs) > 32 {
		cfg.StaticIPs = cfg.StaticIPs[:32]
	}
}

// pickAddresses assigns a member the addresses it lacks from the network's
// pools, avoiding every address another member holds, and returns its
// assignments.
func (c *Controller) pickAddresses(cfg *vl2wire.NetworkConfig, netw record, routes []route, assigned []any, a identity.Address, pick6, pick4 bool) []any {
	allocated := map[netip.Addr]bool{}
	for _, om := range c.db.members[str(netw["id"])] {
		for _, e := range anySlice(om["ipAssignments"]) {
			if ip, err := netip.ParseAddr(str(e)); err == nil {
				allocated[ip] = true
			}
		}
	}
	for _, e := range assigned {
		if ip, err := netip.ParseAddr(str(e)); err == nil {
			allocated[ip] = true
		}
	}
	pools := anySlice(netw["ipAssignmentPools"])
	if pick6 {
		if ip, bits, ok := pickV6(pools, routes, allocated, a); ok {
			assigned = append(assigned, ip.String())
			cfg.StaticIPs = append(cfg.StaticIPs, netip.PrefixFrom(ip, bits))
		}
	}
	if pick4 {
		if ip, bits, ok := pickV4(pools, routes, allocated, a); ok {
			assigned = append(assigned, ip.String())
			cfg.StaticIPs = append(cfg.StaticIPs, netip.PrefixFrom(ip, bits))
		}
	}
	return assigned
}

func pickV4(pools []any, routes []route, allocated map[netip.Addr]bool, a identity.Address) (netip.Addr, int, bool) {
	for _, e := range pools {
		o, _ := e.(map[string]any)
		s, err1 := netip.ParseAddr(str(o["ipRangeStart"]))
		t, err2 := netip.ParseAddr(str(o["ipRangeEnd"]))
		if err1 != nil || err2 != nil || !s.Is4() || !t.Is4() {
			continue
		}
		start, end := u32(s), u32(t)
		if end < start || start == 0 {
			continue
		}
		rangeLen := end - start
		counter := uint32(uint64(a) & 0xffffffff)
		for trial := uint32(0); trial < 1000 && start+trial <= end; trial++ {
			ip := start
			if rangeLen > 0 {
				ip = start + counter%rangeLen
			}
			counter++
			if ip&0xff == 0xff {
				continue
			}
			addr := fromU32(ip)
			bits := 0
			for _, r := range routes {
				if r.target.Addr().Is4() && r.target.Bits() > 0 && r.target.Masked() == r.target && r.target.Contains(addr) {
					bits = r.target.Bits()
					break
				}
			}
			if bits > 0 && !allocated[addr] {
				return addr, bits, true
			}
		}
	}
	return netip.Addr{}, 0, false
}

func pickV6(pools []any, routes []route, allocated map[netip.Addr]bool, a identity.Address) (netip.Addr, int, bool) {
	for _, e := range pools {
		o, _ := e.(map[string]any)
		s, err1 := netip.ParseAddr(str(o["ipRangeStart"]))
		t, err2 := netip.ParseAddr(str(o["ipRangeEnd"]))
		if err1 != nil || err2 != nil || !s.Is6() || !t.Is6() {
			continue
		}
		sb, tb := s.As16(), t.As16()
		sHi, sLo := binary.BigEndian.Uint64(sb[:8]), binary.BigEndian.Uint64(sb[8:])
		eHi, eLo := binary.BigEndian.Uint64(tb[:8]), binary.BigEndian.Uint64(tb[8:])
		for trial := 0; trial < 1000; trial++ {
			hi, lo := sHi, sLo
			if trial == 0 && eLo > sLo && eLo-sLo >= 0xffffffffff {
				lo = sLo + uint64(a)
			} else {
				if eHi > sHi {
					hi += rand.Uint64() % (eHi - sHi)
				}
				if eLo > sLo {
					lo += rand.Uint64() % (eLo - sLo)
				}
			}
			var b [16]byte
			binary.BigEndian.PutUint64(b[:8], hi)
			binary.BigEndian.PutUint64(b[8:], lo)
			ip := netip.AddrFrom16(b)
			bits := 0
			for _, r := range routes {
				if !r.via.IsValid() && r.target.Addr().Is6() && r.target.Contains(ip) {
					bits = r.target.Bits()
				}
			}
			if bits > 0 && !allocated[ip] {
				return ip, bits, true
			}
		}
	}
	return netip.Addr{}, 0, false
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func fromU32(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}
