package memnet

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
)

// Handler receives datagrams synchronously, in place of the receive
// functions: the deterministic harness feeds them straight to a node. The
// data is only valid during the call.
type Handler func(ep transport.Endpoint, data []byte)

// Host is one machine's network interface. It is a transport.Bind with one
// socket per Open.
type Host struct {
	in   *Internet
	ip   netip.Addr
	nat  *NAT
	link Link

	mu      sync.Mutex
	sockets []*socket
	handler Handler
	pcap    *PcapWriter
}

type socket struct {
	port   uint16
	queue  chan *event
	closed chan struct{}
}

var _ transport.Bind = (*Host)(nil)
var _ transport.TTLSender = (*Host)(nil)

func newHost(in *Internet, ip netip.Addr, nat *NAT, link Link) *Host {
	return &Host{in: in, ip: ip, nat: nat, link: link}
}

// IP is the host's own (possibly private) address.
func (h *Host) IP() netip.Addr { return h.ip }

// SetHandler makes deliveries call fn instead of waking receive functions.
func (h *Host) SetHandler(fn Handler) {
	h.mu.Lock()
	h.handler = fn
	h.mu.Unlock()
}

// Capture writes every datagram this host sends or receives to w.
func (h *Host) Capture(w *PcapWriter) {
	h.mu.Lock()
	h.pcap = w
	h.mu.Unlock()
}

// BatchSize implements transport.Bind.
func (h *Host) BatchSize() int { return 32 }

// Open implements transport.Bind: it adds one socket on port (0 picks one).
func (h *Host) Open(port uint16) ([]transport.ReceiveFunc, uint16, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if port == 0 {
		port = 20000 + uint16(len(h.sockets))
		for h.socketLocked(port) != nil {
			port++
		}
	} else if h.socketLocked(port) != nil {
		return nil, 0, fmt.Errorf("memnet: %v port %d in use", h.ip, port)
	}
	s := &socket{port: port, queue: make(chan *event, 1024), closed: make(chan struct{})}
	h.sockets = append(h.sockets, s)
	return []transport.ReceiveFunc{s.receive(len(h.sockets) - 1)}, port, nil
}

func (h *Host) socketLocked(port uint16) *socket {
	for _, s := range h.sockets {
		if s.port == port {
			return s
		}
	}
	return nil
}

func (s *socket) receive(index int) transport.ReceiveFunc {
	return func(bufs [][]byte, sizes []int, eps []transport.Endpoint) (int, error) {
		var e *event
		select {
		case e = <-s.queue:
		case <-s.closed:
			return 0, transport.ErrClosed
		}
		n := 0
		for {
			sizes[n] = copy(bufs[n], e.data)
			eps[n] = transport.Endpoint{Addr: e.from, Socket: index}
			n++
			if n == len(bufs) {
				return n, nil
			}
			select {
			case e = <-s.queue:
			default:
				return n, nil
			}
		}
	}
}

// Close implements transport.Bind.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.sockets {
		close(s.closed)
	}
	h.sockets = nil
	return nil
}

// Send implements transport.Bind.
func (h *Host) Send(bufs [][]byte, ep transport.Endpoint) error {
	return h.send(bufs, ep, 0)
}

// SendTTL implements transport.TTLSender.
func (h *Host) SendTTL(buf []byte, ep transport.Endpoint, ttl int) error {
	return h.send([][]byte{buf}, ep, ttl)
}

func (h *Host) send(bufs [][]byte, ep transport.Endpoint, ttl int) error {
	h.mu.Lock()
	var ports []uint16
	for i, s := range h.sockets {
		if ep.Socket == transport.AnySocket || ep.Socket == i {
			ports = append(ports, s.port)
		}
	}
	h.mu.Unlock()
	if len(ports) == 0 {
		return transport.ErrClosed
	}
	dst := netip.AddrPortFrom(ep.Addr.Addr().Unmap(), ep.Addr.Port())
	h.in.mu.Lock()
	defer h.in.mu.Unlock()
	for _, p := range ports {
		for _, b := range bufs {
			h.in.route(h, p, dst, append([]byte(nil), b...), ttl)
		}
	}
	return nil
}

// deliver hands an arriving datagram to the socket bound to its port.
func (h *Host) deliver(e *event, at time.Time) {
	h.mu.Lock()
	idx := -1
	for i, s := range h.sockets {
		if s.port == e.port {
			idx = i
			break
		}
	}
	handler, w := h.handler, h.pcap
	var s *socket
	if idx >= 0 {
		s = h.sockets[idx]
	}
	h.mu.Unlock()
	if w != nil {
		w.writeAt(at.UnixNano(), e.from, netip.AddrPortFrom(h.ip, e.port), e.data)
	}
	if s == nil {
		return
	}
	if handler != nil {
		handler(transport.Endpoint{Addr: e.from, Socket: idx}, e.data)
		return
	}
	select {
	case s.queue <- e:
	case <-s.closed:
	default: // a full socket buffer drops, as a kernel's does
	}
}

func (h *Host) capture(at time.Time, src, dst netip.AddrPort, data []byte) {
	h.mu.Lock()
	w := h.pcap
	h.mu.Unlock()
	if w != nil {
		w.writeAt(at.UnixNano(), src, dst, data)
	}
}

func (h *Host) hasHandler() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.handler != nil
}
