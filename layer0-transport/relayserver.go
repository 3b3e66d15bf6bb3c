package transport

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// RelayServer is a TCP relay equivalent to ZeroTier's tcp-proxy
// (vl1-peers.md §11.3): nodes that cannot use UDP connect over TCP and it
// forwards their datagrams over UDP, one UDP socket per client, and the
// replies back. It never decrypts anything. Replies wait in a bounded queue
// per client (relayqueue.go): a client that stops reading loses datagrams,
// then its connection, and never holds up anyone else.
type RelayServer struct {
	MaxConns     int           // 0 = 1024
	MaxPerIP     int           // connections from one IP address (IPv6: one /64); 0 = 16
	IdleTimeout  time.Duration // 0 = 300 s
	QueueLen     int           // datagrams waiting for one client; 0 = 256
	WriteTimeout time.Duration // for a client to accept queued datagrams; 0 = 10 s
	Log          *slog.Logger

	active   atomic.Int64
	counters relayCounters
	perIPMu  sync.Mutex
	perIP    map[netip.Prefix]int
}

// RelayStats counts the datagrams the server relayed towards its clients.
type RelayStats struct {
	Active        int    // clients connected
	Sent          uint64 // written to clients
	DroppedFull   uint64 // a client's queue was full: it reads slower than its traffic comes
	DroppedClosed uint64 // queued for a client whose connection ended first
	WriteTimeouts uint64 // clients disconnected because they stopped reading
}

// Stats returns the server's counters.
func (s *RelayServer) Stats() RelayStats {
	return RelayStats{
		Active:        s.Active(),
		Sent:          s.counters.sent.Load(),
		DroppedFull:   s.counters.droppedFull.Load(),
		DroppedClosed: s.counters.droppedDown.Load(),
		WriteTimeouts: s.counters.writeTimeouts.Load(),
	}
}

// Serve accepts clients on ln until ctx ends.
func (s *RelayServer) Serve(ctx context.Context, ln net.Listener) error {
	s.MaxConns = cmp.Or(s.MaxConns, 1024)
	s.IdleTimeout = cmp.Or(s.IdleTimeout, 300*time.Second)
	s.QueueLen = cmp.Or(s.QueueLen, defaultRelayQueue)
	s.WriteTimeout = cmp.Or(s.WriteTimeout, defaultRelayWriteTimeout)
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	s.MaxPerIP = cmp.Or(s.MaxPerIP, 16)
	s.perIP = map[netip.Prefix]int{}
	go func() { <-ctx.Done(); ln.Close() }()
	var wg sync.WaitGroup
	defer wg.Wait()
	backoff := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of descriptors (EMFILE) or a transient network error: a
			// relay keeps serving the clients it has and tries again.
			s.Log.Warn("relay: accept failed; retrying", "err", err, "in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		key := clientKey(c.RemoteAddr())
		if int(s.active.Load()) >= s.MaxConns || !s.takeSlot(key) {
			s.Log.Warn("relay: connection refused, limit reached", "from", c.RemoteAddr(), "limit", s.MaxConns, "per_ip", s.MaxPerIP)
			c.Close()
			continue
		}
		s.active.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.active.Add(-1)
			defer s.releaseSlot(key)
			s.handle(ctx, c)
		}()
	}
}

// clientKey is what the per-address limit counts by: the IPv4 address, or
// the IPv6 /64 (a host has a whole /64 to pick from).
func clientKey(a net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

func (s *RelayServer) takeSlot(k netip.Prefix) bool {
	s.perIPMu.Lock()
	defer s.perIPMu.Unlock()
	if s.perIP[k] >= s.MaxPerIP {
		return false
	}
	s.perIP[k]++
	return true
}

func (s *RelayServer) releaseSlot(k netip.Prefix) {
	s.perIPMu.Lock()
	defer s.perIPMu.Unlock()
	if s.perIP[k]--; s.perIP[k] <= 0 {
		delete(s.perIP, k)
	}
}

// Active is how many clients are connected.
func (s *RelayServer) Active() int { return int(s.active.Load()) }

// relayClient is one client's connection, its UDP socket and its queue.
type relayClient struct {
	s         *RelayServer
	c         net.Conn
	udp       *net.UDPConn
	queue     chan *relayRecord
	addressed atomic.Bool  // the client said hello: messages carry addresses
	last      atomic.Int64 // unix nanoseconds of the last traffic either way
	in, out   atomic.Int64 // bytes to and from the client
}

func (s *RelayServer) handle(ctx context.Context, c net.Conn) {
	defer c.Close()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		s.Log.Error("relay: no UDP socket", "err", err)
		return
	}
	defer udp.Close()
	start := time.Now()
	cl := &relayClient{s: s, c: c, udp: udp, queue: make(chan *relayRecord, s.QueueLen)}
	cl.last.Store(start.UnixNano())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); cl.fromUDP() }()
	var writeErr error
	go func() {
		defer wg.Done()
		if writeErr = writeRecords(c, cl.queue, stop, s.WriteTimeout, &s.counters); writeErr != nil {
			c.Close() // ends toUDP
		}
	}()
	go func() { defer wg.Done(); cl.closeWhenIdle(ctx, stop) }()
	reason := cl.toUDP()
	close(stop)
	udp.Close() // ends fromUDP
	wg.Wait()
	if writeErr != nil {
		reason = "write: " + writeErr.Error()
	}
	s.counters.discard(cl.queue)
	s.Log.Info("relay: connection ended", "from", c.RemoteAddr(), "udp_port", udp.LocalAddr().(*net.UDPAddr).Port,
		"seconds", int(time.Since(start).Seconds()), "bytes_out", cl.out.Load(), "bytes_in", cl.in.Load(), "reason", reason)
}

// fromUDP queues the datagrams that arrive for the client.
func (cl *relayClient) fromUDP() {
	buf := make([]byte, 4096)
	for {
		n, from, err := cl.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if n < 16 || n > 2047 {
			continue
		}
		cl.last.Store(time.Now().UnixNano())
		var r *relayRecord
		if cl.addressed.Load() {
			r = addressedRecord(netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), buf[:n])
		} else {
			r = plainRecord(buf[:n])
		}
		if cl.s.counters.enqueue(cl.queue, r) {
			cl.in.Add(int64(n))
		}
	}
}

// closeWhenIdle closes the connection when the server stops or nothing
// has moved for IdleTimeout.
func (cl *relayClient) closeWhenIdle(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(min(cl.s.IdleTimeout/4, 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			cl.c.Close()
			return
		case <-t.C:
			if time.Since(time.Unix(0, cl.last.Load())) > cl.s.IdleTimeout {
				cl.c.Close()
				return
			}
		}
	}
}

// toUDP forwards what the client sends until its connection ends, and
// says why it ended.
func (cl *relayClient) toUDP() (reason string) {
	r := bufio.NewReaderSize(cl.c, 1<<17)
	buf := make([]byte, maxRecord)
	for {
		m, err := ReadRecord(r, buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
				return "closed"
			}
			return err.Error()
		}
		cl.last.Store(time.Now().UnixNano())
		switch {
		case len(m) == relayHelloLen:
			cl.addressed.Store(true)
		case len(m) >= 7 && cl.addressed.Load() && m[0] == 0x04:
			to, data, err := ParseAddressed(m)
			if err == nil && to.Port() > 1024 && len(data) >= 16 {
				cl.udp.WriteToUDPAddrPort(data, to)
				cl.out.Add(int64(len(data)))
			}
		case len(m) >= 16 && !cl.addressed.Load():
			// A client without the hello speaks the old format: everything
			// goes to the local node, as tcp-proxy does.
			cl.udp.WriteToUDPAddrPort(m, netip.MustParseAddrPort("127.0.0.1:9993"))
		}
	}
}
