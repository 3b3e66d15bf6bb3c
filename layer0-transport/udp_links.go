package transport

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Binding to links. ZeroTierOne 1.14.1 does not listen on the wildcard
// address: it enumerates the interfaces, binds every usable address on
// every port, and on Linux ties each socket to its device
// (SO_BINDTODEVICE), so a datagram leaves through the link its path
// belongs to whatever the routing table says, and each physical link is a
// path of its own. It does this again every 30 s (7.5 s while bonding),
// closing sockets of addresses that left and binding new ones
// (osdep/Binder.hpp, service/OneService.cpp shouldBindInterface). The UDP
// bind does the same when LinkOptions ask for it.

// LinkOptions choose per-interface sockets (service-api.md §11.3:
// settings.bind, settings.interfacePrefixBlacklist).
type LinkOptions struct {
	// Interfaces binds each usable interface address instead of the
	// wildcard.
	Interfaces bool
	// Addrs are explicit local addresses to bind instead of enumerating
	// interfaces (settings.bind). Not tied to a device, as in 1.14.1.
	Addrs []netip.Addr
	// DenyPrefixes are interface name prefixes never bound
	// (settings.interfacePrefixBlacklist), on top of the system's own
	// loopback and tunnel names that 1.14.1 always skips.
	DenyPrefixes []string
	// Skip reports addresses never to bind: those of ZeroTier's own
	// networks (binding them would carry ZeroTier inside itself) and the
	// physical blacklist.
	Skip func(netip.Addr) bool
	// Rescan is how often the interfaces are enumerated again; 0 means
	// 30 s, 1.14.1's ZT_BINDER_REFRESH_PERIOD.
	Rescan time.Duration
}

// DefaultRescan is 1.14.1's binder refresh period.
const DefaultRescan = 30 * time.Second

func (o LinkOptions) enabled() bool { return o.Interfaces || len(o.Addrs) > 0 }

// SocketInfo describes one Endpoint.Socket of a bind: its port, the local
// address it is bound to (unspecified for the wildcard) and the interface
// that address belongs to ("" for the wildcard or when unknown).
type SocketInfo struct {
	Port      uint16
	Local     netip.Addr
	Interface string
}

// systemDeny are the interface name prefixes 1.14.1 never binds on this
// system: loopback, its own taps, and other tunnels (binding them could
// route ZeroTier through a VPN or itself).
func systemDeny() []string {
	switch runtime.GOOS {
	case "linux":
		return []string{"lo", "zt", "tun", "tap"}
	case "darwin", "ios":
		return []string{"feth", "lo", "zt", "tun", "tap", "utun"}
	}
	return []string{"lo", "zt"}
}

// denied reports whether an interface name starts with a denied prefix.
func denied(name string, extra []string) bool {
	for _, p := range systemDeny() {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, p := range extra {
		if p != "" && strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// bindable is 1.14.1's scope test for binding: global, private, shared and
// pseudo-private addresses; not loopback, link-local, multicast, 0/8 or
// 255/8.
func bindable(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	if ip.Is4() {
		b := ip.As4()
		return b[0] != 0 && b[0] != 255
	}
	return true
}

// linkAddr is one local address to bind, with its interface; device says
// whether to tie the socket to that interface.
type linkAddr struct {
	addr   netip.Addr
	ifname string
	device bool
}

// interfaceAddrs is the system's interfaces and addresses; tests replace it.
var interfaceAddrs = func() (map[string][]netip.Addr, map[string]bool, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, nil, err
	}
	addrs := map[string][]netip.Addr{}
	up := map[string]bool{}
	for _, ifc := range ifs {
		up[ifc.Name] = ifc.Flags&net.FlagUp != 0
		as, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					addrs[ifc.Name] = append(addrs[ifc.Name], ip.Unmap())
				}
			}
		}
	}
	return addrs, up, nil
}

// wantedLinks lists the addresses the options ask for, sorted by interface
// then address so socket numbers come out in a stable order.
func wantedLinks(o LinkOptions, ipv4Only bool) ([]linkAddr, error) {
	addrs, up, err := interfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("udp: list interfaces: %w", err)
	}
	owner := func(ip netip.Addr) string {
		for name, as := range addrs {
			for _, a := range as {
				if a == ip {
					return name
				}
			}
		}
		return ""
	}
	var out []linkAddr
	if len(o.Addrs) > 0 {
		for _, ip := range o.Addrs {
			if ip.Is6() && ipv4Only {
				continue
			}
			out = append(out, linkAddr{addr: ip.Unmap(), ifname: owner(ip.Unmap())})
		}
		return out, nil
	}
	for name, as := range addrs {
		if !up[name] || denied(name, o.DenyPrefixes) {
			continue
		}
		for _, ip := range as {
			if !bindable(ip) || (ip.Is6() && ipv4Only) || (o.Skip != nil && o.Skip(ip)) {
				continue
			}
			out = append(out, linkAddr{addr: ip, ifname: name, device: true})
		}
	}
	sortLinks(out)
	return out, nil
}

func sortLinks(ls []linkAddr) {
	slices.SortFunc(ls, func(a, b linkAddr) int {
		return cmp.Or(strings.Compare(a.ifname, b.ifname), a.addr.Compare(b.addr))
	})
}

// linkState is the per-interface binding's bookkeeping, under UDP.mu.
type linkState struct {
	timer   *time.Timer
	pending []ReceiveFunc   // receivers of sockets bound since the last TakeReceivers
	failed  map[string]bool // bind failures already logged
	added   chan struct{}   // signalled when pending grows
	devErr  bool            // SO_BINDTODEVICE refusal logged
	period  time.Duration
}

func (l *linkState) start(u *UDP) {
	l.period = u.opts.Links.Rescan
	if l.period <= 0 {
		l.period = DefaultRescan
	}
	l.timer = time.AfterFunc(l.period, func() {
		// Enumerating takes a netlink round trip: not under the lock
		// every send takes.
		want, err := wantedLinks(u.opts.Links, u.opts.IPv4Only)
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.closed || l.timer == nil {
			return
		}
		u.refreshLinksLocked(want, err)
		l.timer.Reset(l.period)
	})
}

func (l *linkState) stop() {
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.pending = nil
}

// Rescan enumerates the interfaces again now instead of at the next
// period (a node that learns of a link change need not wait).
func (u *UDP) Rescan() {
	if !u.opts.Links.enabled() {
		return
	}
	want, err := wantedLinks(u.opts.Links, u.opts.IPv4Only)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed || len(u.ports) == 0 {
		return
	}
	u.refreshLinksLocked(want, err)
}

// refreshLinksLocked closes the sockets of addresses no longer wanted and
// binds the new ones (want, from wantedLinks) on every port, as 1.14.1's
// binder refresh does. The receive functions of new sockets wait in
// pending for TakeReceivers.
func (u *UDP) refreshLinksLocked(want []linkAddr, err error) {
	l := &u.links
	if l.failed == nil {
		l.failed = map[string]bool{}
	}
	if err != nil {
		u.log.Warn("cannot enumerate interfaces; keeping the current sockets", "err", err)
		if u.liveSockets() > 0 {
			return
		}
		// 1.14.1 falls back to the wildcard when it cannot enumerate.
		want = []linkAddr{{addr: netip.IPv4Unspecified()}}
		if !u.opts.IPv4Only {
			want = append(want, linkAddr{addr: netip.IPv6Unspecified()})
		}
	}
	key := func(a netip.Addr, port uint16, ifname string) string {
		return netip.AddrPortFrom(a, port).String() + "%" + ifname
	}
	wanted := map[string]bool{}
	for _, w := range want {
		for _, p := range u.ports {
			wanted[key(w.addr, p, w.ifname)] = true
		}
	}
	for k := range l.failed {
		if !wanted[k] {
			delete(l.failed, k) // gone: a failure when it returns is news again
		}
	}
	bound := map[string]bool{}
	for i, s := range u.sockets {
		if s == nil {
			continue
		}
		k := key(s.local, s.port, s.ifname)
		if wanted[k] && !bound[k] {
			bound[k] = true
			continue
		}
		for _, c := range s.conns() {
			u.idle.forget(c)
		}
		s.close()
		u.sockets[i] = nil
		u.log.Info("udp socket unbound: its interface address is gone", "socket", i, "addr", netip.AddrPortFrom(s.local, s.port), "interface", s.ifname)
	}
	added := false
	for _, w := range want {
		for _, p := range u.ports {
			k := key(w.addr, p, w.ifname)
			if bound[k] {
				continue
			}
			ap := netip.AddrPortFrom(w.addr, p)
			network, dev := "udp4", ""
			if w.addr.Is6() {
				network = "udp6"
			}
			if w.device {
				dev = w.ifname
			}
			c, err := u.listen(network, ap, dev)
			if err != nil {
				if !l.failed[k] {
					l.failed[k] = true
					u.log.Warn("cannot bind an interface address; trying again at the next rescan", "addr", ap, "interface", w.ifname, "err", err)
				}
				continue
			}
			delete(l.failed, k)
			bound[k] = true
			id := len(u.sockets)
			s := &udpSocket{port: p, local: w.addr, ifname: w.ifname}
			if w.addr.Is6() {
				s.v6 = c
			} else {
				s.v4 = c
			}
			u.sockets = append(u.sockets, s)
			l.pending = append(l.pending, c.receiver(u, id))
			added = true
			u.log.Info("udp socket bound", "socket", id, "addr", ap, "interface", w.ifname)
		}
	}
	if added {
		select {
		case u.addedCh() <- struct{}{}:
		default:
		}
	}
}

func (u *UDP) liveSockets() int {
	n := 0
	for _, s := range u.sockets {
		if s != nil {
			n++
		}
	}
	return n
}

func (u *UDP) addedCh() chan struct{} {
	if u.links.added == nil {
		u.links.added = make(chan struct{}, 1)
	}
	return u.links.added
}

// deviceRefused notes, once, that the system would not tie a socket to its
// device: the socket still works, bound to the address alone (1.14.1
// ignores the refusal the same way).
func (u *UDP) deviceRefused(ifname string, err error) {
	if !u.links.devErr {
		u.links.devErr = true
		u.log.Warn("cannot bind sockets to their interfaces (SO_BINDTODEVICE; needs CAP_NET_RAW on older kernels); bound to the addresses only", "interface", ifname, "err", err)
	}
}

// ReceiversAdded implements Rebinder: it is signalled when sockets were
// bound after Open.
func (u *UDP) ReceiversAdded() <-chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.addedCh()
}

// TakeReceivers implements Rebinder: the receive functions of sockets
// bound since Open or the last call. A socket unbound later makes its
// function return ErrClosed.
func (u *UDP) TakeReceivers() []ReceiveFunc {
	u.mu.Lock()
	defer u.mu.Unlock()
	fns := u.links.pending
	u.links.pending = nil
	return fns
}

// SocketInfo implements SocketInfoer.
func (u *UDP) SocketInfo(socket int) (SocketInfo, bool) {
	u.mu.RLock()
	defer u.mu.RUnlock()
	if socket < 0 || socket >= len(u.sockets) || u.sockets[socket] == nil {
		return SocketInfo{}, false
	}
	s := u.sockets[socket]
	return SocketInfo{Port: s.port, Local: s.local, Interface: s.ifname}, true
}

// boundAddrs are the bound interface addresses with their ports, 1.14.1's
// allBoundLocalInterfaceAddresses.
func (u *UDP) boundAddrs() []netip.AddrPort {
	u.mu.RLock()
	defer u.mu.RUnlock()
	var out []netip.AddrPort
	for _, s := range u.sockets {
		if s != nil && !s.local.IsUnspecified() {
			out = append(out, netip.AddrPortFrom(s.local, s.port))
		}
	}
	return out
}
