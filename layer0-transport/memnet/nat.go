package memnet

import (
	"net/netip"
	"time"
)

// NATType is how a NAT maps and filters (RFC 4787 terms).
type NATType int

const (
	// FullCone maps each inside address:port to one outside port and lets
	// anyone send to it (endpoint-independent mapping and filtering).
	FullCone NATType = iota + 1
	// AddressRestricted keeps one mapping but admits only IPs the inside
	// host has sent to.
	AddressRestricted
	// PortRestricted admits only the exact IP:ports the inside host has
	// sent to.
	PortRestricted
	// Symmetric uses a new outside port for every destination and admits
	// only replies from that destination.
	Symmetric
)

func (t NATType) String() string {
	switch t {
	case FullCone:
		return "full-cone"
	case AddressRestricted:
		return "address-restricted"
	case PortRestricted:
		return "port-restricted"
	case Symmetric:
		return "symmetric"
	}
	return "none"
}

// NATTypes lists every kind, for matrix tests.
var NATTypes = []NATType{FullCone, AddressRestricted, PortRestricted, Symmetric}

// NAT is a router with one public address in front of a private LAN.
type NAT struct {
	in     *Internet
	Public netip.Addr
	Kind   NATType
	link   Link
	// UDPTimeout, when set, forgets a mapping that has seen no outbound
	// datagram for that long (home routers commonly use 30 s): inbound
	// datagrams do not refresh it.
	UDPTimeout time.Duration

	lan      map[netip.Addr]*Host
	byInside map[mapKey]*mapping
	byPort   map[uint16]*mapping
	nextPort uint16
	pcap     *PcapWriter
}

type mapKey struct {
	inside netip.AddrPort
	remote netip.AddrPort // only for Symmetric
}

type mapping struct {
	key     mapKey
	inside  netip.AddrPort
	port    uint16
	allowed map[netip.AddrPort]bool
	lastOut time.Duration // internet time of the last outbound datagram
}

// expired reports (with in.mu held) whether m timed out, and forgets it.
func (n *NAT) expired(m *mapping) bool {
	if n.UDPTimeout <= 0 || n.in.elapsedLocked()-m.lastOut <= n.UDPTimeout {
		return false
	}
	delete(n.byInside, m.key)
	delete(n.byPort, m.port)
	return true
}

// Capture writes the NAT's public side (translated datagrams) to w.
func (n *NAT) Capture(w *PcapWriter) {
	n.in.mu.Lock()
	n.pcap = w
	n.in.mu.Unlock()
}

// Mappings is how many translations the NAT holds.
func (n *NAT) Mappings() int {
	n.in.mu.Lock()
	defer n.in.mu.Unlock()
	return len(n.byPort)
}

// Reset forgets every mapping, as a NAT that rebooted does: hosts behind
// it get new public ports for their next datagrams, and what was open is
// closed.
func (n *NAT) Reset() {
	n.in.mu.Lock()
	defer n.in.mu.Unlock()
	clear(n.byInside)
	clear(n.byPort)
}

// outbound translates an inside source sending to dst. Called with in.mu.
func (n *NAT) outbound(src, dst netip.AddrPort) (netip.AddrPort, bool) {
	key := mapKey{inside: src}
	if n.Kind == Symmetric {
		key.remote = dst
	}
	m := n.byInside[key]
	if m != nil && n.expired(m) {
		m = nil
	}
	if m == nil {
		port := n.nextPort
		for n.byPort[port] != nil {
			port++
			if port < 40000 {
				port = 40000
			}
		}
		n.nextPort = port + 1
		m = &mapping{key: key, inside: src, port: port, allowed: map[netip.AddrPort]bool{}}
		n.byInside[key] = m
		n.byPort[port] = m
	}
	m.lastOut = n.in.elapsedLocked()
	m.allowed[dst] = true
	if n.Kind == AddressRestricted {
		m.allowed[netip.AddrPortFrom(dst.Addr(), 0)] = true
	}
	return netip.AddrPortFrom(n.Public, m.port), true
}

// inbound finds the inside host for a datagram from src to the public dst.
func (n *NAT) inbound(src, dst netip.AddrPort) (netip.AddrPort, bool) {
	m := n.byPort[dst.Port()]
	if m == nil {
		return netip.AddrPort{}, false
	}
	if n.expired(m) {
		return netip.AddrPort{}, false
	}
	switch n.Kind {
	case FullCone:
	case AddressRestricted:
		if !m.allowed[netip.AddrPortFrom(src.Addr(), 0)] {
			return netip.AddrPort{}, false
		}
	default:
		if !m.allowed[src] {
			return netip.AddrPort{}, false
		}
	}
	return m.inside, true
}

// capture records a datagram on the NAT's public side.
func (n *NAT) capture(at time.Time, src, dst netip.AddrPort, data []byte) {
	if n.pcap != nil {
		n.pcap.writeAt(at.UnixNano(), src, dst, data)
	}
}
