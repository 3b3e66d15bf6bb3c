// Package l2adapter turns a layer-3 device (IP packets: macOS utun,
// Windows wintun, wireguard-go's tun.Device) into the Ethernet frame device
// VL2 needs. It adds and strips Ethernet headers, answers ARP and IPv6
// neighbour solicitations for the interface's own addresses, resolves
// neighbours on the virtual network before sending (queueing a few packets
// meanwhile), and maps IP multicast to Ethernet multicast.
//
// It imports no ztgo layer; it is tested on Linux with a fake device.
package l2adapter

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
)

// L3Device is the part of wireguard-go's tun.Device the adapter uses.
type L3Device interface {
	Read(bufs [][]byte, sizes []int, offset int) (int, error)
	Write(bufs [][]byte, offset int) (int, error)
	BatchSize() int
	Close() error
}

const (
	etherIPv4 = 0x0800
	etherARP  = 0x0806
	etherIPv6 = 0x86dd
	ethHeader = 14
	queueMax  = 16 // packets kept per unresolved neighbour
)

var broadcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Adapter is an Ethernet frame device on top of an L3 device.
type Adapter struct {
	l3   L3Device
	name string
	mtu  int
	mac  [6]byte

	mu        sync.Mutex
	addrs     []netip.Prefix
	routes    []netip.Prefix
	neighbors map[netip.Addr][6]byte
	waiting   map[netip.Addr][][]byte
	local     chan []byte // frames the adapter itself originates (ARP, NS, NA)
	fromOS    chan []byte // IP packets the OS sent, read by a goroutine
	closed    chan struct{}
	once      sync.Once
}

// New wraps an L3 device; mac is the interface's MAC on the network.
func New(l3 L3Device, name string, mac [6]byte, mtu int) *Adapter {
	a := &Adapter{l3: l3, name: name, mtu: mtu, mac: mac, neighbors: map[netip.Addr][6]byte{}, waiting: map[netip.Addr][][]byte{},
		local: make(chan []byte, 256), fromOS: make(chan []byte, 256), closed: make(chan struct{})}
	go a.readOS()
	return a
}

// readOS pulls IP packets from the L3 device, which blocks, so that Read
// can also return the frames the adapter makes itself.
func (a *Adapter) readOS() {
	batch := max(a.l3.BatchSize(), 1)
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, 65536)
	}
	sizes := make([]int, batch)
	for {
		n, err := a.l3.Read(bufs, sizes, 0)
		if err != nil {
			select {
			case <-a.closed:
				return
			default:
			}
			continue
		}
		for i := range n {
			select {
			case a.fromOS <- append(make([]byte, ethHeader, ethHeader+sizes[i]), bufs[i][:sizes[i]]...):
			case <-a.closed:
				return
			}
		}
	}
}

// Name implements the frame device interface.
func (a *Adapter) Name() string { return a.name }

// MTU implements the frame device interface.
func (a *Adapter) MTU() int { return a.mtu }

// BatchSize implements the frame device interface.
func (a *Adapter) BatchSize() int { return 1 }

// SetAddresses records the interface's own addresses and on-link routes
// (the owner also configures the OS; see Configure in the platform drivers).
func (a *Adapter) SetAddresses(addrs, routes []netip.Prefix) {
	a.mu.Lock()
	a.addrs, a.routes = append([]netip.Prefix(nil), addrs...), append([]netip.Prefix(nil), routes...)
	a.mu.Unlock()
}

func (a *Adapter) ownsLocked(ip netip.Addr) (netip.Prefix, bool) {
	for _, p := range a.addrs {
		if p.Addr() == ip {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// sourceFor picks our address of the right family in the same prefix.
func (a *Adapter) sourceFor(dst netip.Addr) (netip.Addr, bool) {
	for _, p := range a.addrs {
		if p.Addr().Is4() == dst.Is4() && p.Masked().Contains(dst) {
			return p.Addr(), true
		}
	}
	for _, p := range a.addrs {
		if p.Addr().Is4() == dst.Is4() {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("l2adapter: closed")

// Read returns the next Ethernet frame for the network: one the adapter
// originated (ARP, neighbour discovery) or an IP packet from the OS with
// its Ethernet header.
func (a *Adapter) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	for {
		select {
		case f := <-a.local:
			sizes[0] = copy(bufs[0][offset:], f)
			return 1, nil
		case f := <-a.fromOS:
			if size, ok := a.frameFor(f, f[ethHeader:]); ok {
				sizes[0] = copy(bufs[0][offset:], f[:size])
				return 1, nil
			}
			// Queued behind neighbour resolution (the ARP/NS went to a.local).
		case <-a.closed:
			return 0, ErrClosed
		}
	}
}

// frameFor writes the Ethernet header before pkt (in frame, whose bytes
// 14.. are pkt) and returns the frame length, or queues pkt and emits a
// neighbour request.
func (a *Adapter) frameFor(frame, pkt []byte) (int, bool) {
	dst, v6, ok := ipDestination(pkt)
	if !ok {
		return 0, false
	}
	et := uint16(etherIPv4)
	if v6 {
		et = etherIPv6
	}
	var mac [6]byte
	switch {
	case dst.IsMulticast():
		mac = multicastMAC(dst)
	case dst.Is4() && dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		mac = broadcast
	default:
		a.mu.Lock()
		hop := a.nextHopLocked(dst)
		known, ok := a.neighbors[hop]
		if !ok {
			q := a.waiting[hop]
			if len(q) < queueMax {
				a.waiting[hop] = append(q, append([]byte(nil), pkt...))
			}
			src, _ := a.sourceFor(hop)
			a.mu.Unlock()
			if len(q) == 0 && src.IsValid() {
				a.emit(a.solicit(src, hop))
			}
			return 0, false
		}
		a.mu.Unlock()
		mac = known
	}
	copy(frame[0:6], mac[:])
	copy(frame[6:12], a.mac[:])
	binary.BigEndian.PutUint16(frame[12:14], et)
	return ethHeader + len(pkt), true
}

// nextHopLocked: destinations in an on-link prefix are their own next hop;
// ztgo installs only on-link routes, so everything else is too.
func (a *Adapter) nextHopLocked(dst netip.Addr) netip.Addr { return dst }

func (a *Adapter) emit(frame []byte) {
	if frame == nil {
		return
	}
	select {
	case a.local <- frame:
	default:
	}
}

// Write takes Ethernet frames from the network: IP to the OS, ARP and
// neighbour discovery answered here.
func (a *Adapter) Write(bufs [][]byte, offset int) (int, error) {
	for _, b := range bufs {
		f := b[offset:]
		if len(f) < ethHeader {
			continue
		}
		var src [6]byte
		copy(src[:], f[6:12])
		payload := f[ethHeader:]
		switch binary.BigEndian.Uint16(f[12:14]) {
		case etherARP:
			a.handleARP(payload)
		case etherIPv4, etherIPv6:
			if a.handleND(src, payload) {
				continue
			}
			if s, _, ok := ipSource(payload); ok {
				a.learn(s, src)
			}
			if _, err := a.l3.Write([][]byte{append(make([]byte, 0, len(payload)), payload...)}, 0); err != nil {
				return 0, err
			}
		}
	}
	return len(bufs), nil
}

// learn records a neighbour and releases packets waiting for it.
func (a *Adapter) learn(ip netip.Addr, mac [6]byte) {
	if !ip.IsValid() || mac[0]&1 != 0 {
		return
	}
	a.mu.Lock()
	a.neighbors[ip] = mac
	q := a.waiting[ip]
	delete(a.waiting, ip)
	a.mu.Unlock()
	for _, pkt := range q {
		frame := make([]byte, ethHeader+len(pkt))
		copy(frame[ethHeader:], pkt)
		if n, ok := a.frameFor(frame, frame[ethHeader:]); ok {
			a.emit(frame[:n])
		}
	}
}

// Close closes the L3 device.
func (a *Adapter) Close() error {
	a.once.Do(func() { close(a.closed) })
	return a.l3.Close()
}

// multicastMAC maps an IP multicast group to its Ethernet address.
func multicastMAC(ip netip.Addr) [6]byte {
	if ip.Is4() {
		b := ip.As4()
		return [6]byte{0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]}
	}
	b := ip.As16()
	return [6]byte{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

func ipDestination(p []byte) (netip.Addr, bool, bool) {
	switch {
	case len(p) >= 20 && p[0]>>4 == 4:
		return netip.AddrFrom4([4]byte(p[16:20])), false, true
	case len(p) >= 40 && p[0]>>4 == 6:
		return netip.AddrFrom16([16]byte(p[24:40])), true, true
	}
	return netip.Addr{}, false, false
}

func ipSource(p []byte) (netip.Addr, bool, bool) {
	switch {
	case len(p) >= 20 && p[0]>>4 == 4:
		return netip.AddrFrom4([4]byte(p[12:16])), false, true
	case len(p) >= 40 && p[0]>>4 == 6:
		return netip.AddrFrom16([16]byte(p[8:24])), true, true
	}
	return netip.Addr{}, false, false
}
