package transport

import (
	"bufio"
	"context"
	"errors"
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
// replies back. It never decrypts anything.
type RelayServer struct {
	MaxConns    int           // 0 = 1024
	IdleTimeout time.Duration // 0 = 300 s
	Log         *slog.Logger

	active atomic.Int64
}

// Serve accepts clients on ln until ctx ends.
func (s *RelayServer) Serve(ctx context.Context, ln net.Listener) error {
	if s.MaxConns == 0 {
		s.MaxConns = 1024
	}
	if s.IdleTimeout == 0 {
		s.IdleTimeout = 300 * time.Second
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	go func() { <-ctx.Done(); ln.Close() }()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return err
		}
		if int(s.active.Load()) >= s.MaxConns {
			s.Log.Warn("relay: connection refused, limit reached", "from", c.RemoteAddr(), "limit", s.MaxConns)
			c.Close()
			continue
		}
		s.active.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.active.Add(-1)
			s.handle(ctx, c)
		}()
	}
}

// Active is how many clients are connected.
func (s *RelayServer) Active() int { return int(s.active.Load()) }

func (s *RelayServer) handle(ctx context.Context, c net.Conn) {
	defer c.Close()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		s.Log.Error("relay: no UDP socket", "err", err)
		return
	}
	defer udp.Close()
	start := time.Now()
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var in, out atomic.Int64
	var wmu sync.Mutex
	w := bufio.NewWriter(c)
	addressed := atomic.Bool{} // the client said hello: messages carry addresses
	done := make(chan struct{})
	// UDP -> TCP.
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := udp.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if n < 16 || n > 2047 {
				continue
			}
			last.Store(time.Now().UnixNano())
			var msg []byte
			if addressed.Load() {
				msg = AppendAddressed(nil, from, buf[:n])
			} else {
				msg = buf[:n]
			}
			wmu.Lock()
			if w.Buffered() < 1<<17 {
				w.Write(AppendRecord(nil, msg))
				if w.Flush() != nil {
					wmu.Unlock()
					return
				}
				in.Add(int64(n))
			}
			wmu.Unlock()
		}
	}()
	// Idle timeout.
	go func() {
		t := time.NewTicker(min(s.IdleTimeout/4, 30*time.Second))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				c.Close()
				return
			case <-t.C:
				if time.Since(time.Unix(0, last.Load())) > s.IdleTimeout {
					c.Close()
					return
				}
			}
		}
	}()
	// TCP -> UDP.
	r := bufio.NewReaderSize(c, 1<<17)
	buf := make([]byte, maxRecord)
	reason := "closed"
	for {
		m, err := ReadRecord(r, buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && err.Error() != "EOF" {
				reason = err.Error()
			}
			break
		}
		last.Store(time.Now().UnixNano())
		switch {
		case len(m) == relayHelloLen:
			addressed.Store(true)
		case len(m) >= 7 && addressed.Load() && m[0] == 0x04:
			to, data, err := ParseAddressed(m)
			if err == nil && to.Port() > 1024 && len(data) >= 16 {
				udp.WriteToUDPAddrPort(data, to)
				out.Add(int64(len(data)))
			}
		case len(m) >= 16 && !addressed.Load():
			// A client without the hello speaks the old format: everything
			// goes to the local node, as tcp-proxy does.
			udp.WriteToUDPAddrPort(m, netip.MustParseAddrPort("127.0.0.1:9993"))
		}
	}
	close(done)
	s.Log.Info("relay: connection ended", "from", c.RemoteAddr(), "udp_port", udp.LocalAddr().(*net.UDPAddr).Port,
		"seconds", int(time.Since(start).Seconds()), "bytes_out", out.Load(), "bytes_in", in.Load(), "reason", reason)
}
