package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// listenAPI opens the local API's listeners on port: 127.0.0.1 and [::1]
// (the latter only when the host has IPv6), or, when allowManagementFrom
// is set, the wildcard addresses, whose connections are then admitted
// only from loopback and the allowed networks.
func listenAPI(port uint16, allow []netip.Prefix) ([]net.Listener, error) {
	v4, v6 := "127.0.0.1", "::1"
	if len(allow) > 0 {
		v4, v6 = "0.0.0.0", "::"
	}
	ln4, err := net.Listen("tcp4", net.JoinHostPort(v4, strconv.Itoa(int(port))))
	if err != nil {
		return nil, fmt.Errorf("local API on %s:%d: %w", v4, port, err)
	}
	lns := []net.Listener{ln4}
	// IPv6 is optional: hosts without it (or with it disabled) still serve
	// the API over IPv4.
	if ln6, err := net.Listen("tcp6", net.JoinHostPort(v6, strconv.Itoa(int(port)))); err == nil {
		lns = append(lns, ln6)
	}
	for i, ln := range lns {
		lns[i] = &apiListener{Listener: ln, allow: allow}
	}
	return lns, nil
}

// parseAllowManagementFrom reads local.conf's allowManagementFrom: a list
// of networks ("10.0.0.0/8") or single addresses ("192.168.1.5", which
// admits that host alone).
func parseAllowManagementFrom(v any) ([]netip.Prefix, []string) {
	list, _ := v.([]any)
	var out []netip.Prefix
	var bad []string
	for _, e := range list {
		s, _ := e.(string)
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		bad = append(bad, fmt.Sprint(e))
	}
	return out, bad
}

// managementAllowed tells whether a client at remote may use the API at
// all (the token is checked after): loopback always, others when inside
// one of the allowed networks.
func managementAllowed(remote string, allow []netip.Prefix) bool {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	if ip.IsLoopback() {
		return true
	}
	for _, p := range allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// apiListener refuses (closes at once) connections from clients that may
// not manage the node, and lets HTTP/1.1 requests without a Host header
// through (see hostConn).
type apiListener struct {
	net.Listener
	allow []netip.Prefix
}

func (l *apiListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !managementAllowed(c.RemoteAddr().String(), l.allow) {
			c.Close()
			continue
		}
		return &hostConn{Conn: c}, nil
	}
}

// maxHead bounds the request head hostConn will hold to look for a Host
// line; a longer head passes through untouched (and net/http rejects it).
const maxHead = 64 << 10

// hostConn adds "Host: 127.0.0.1" to each request head that has none.
// zerotier-cli sends HTTP/1.1 requests without Host, which zerotier-one
// serves and net/http refuses (400) before any handler runs. The stream is
// followed request by request: a head, then Content-Length bytes of body.
// A chunked body, or a head over maxHead, ends the rewriting for the rest
// of the connection (no known client sends those without Host).
type hostConn struct {
	net.Conn
	in       []byte // read from the connection, not yet handled
	out      []byte // handled, for the reader
	bodyLeft int64  // body bytes of the current request still to pass
	raw      bool   // pass everything through from now on
}

func (c *hostConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		c.process()
		if len(c.out) > 0 {
			break
		}
		if c.raw && len(c.in) == 0 {
			return c.Conn.Read(p)
		}
		var buf [4096]byte
		n, err := c.Conn.Read(buf[:])
		c.in = append(c.in, buf[:n]...)
		if err != nil {
			if n > 0 {
				continue
			}
			if len(c.in) > 0 && errors.Is(err, io.EOF) {
				// A truncated head: hand it over as it is.
				c.out, c.in, c.raw = c.in, nil, true
				break
			}
			return 0, err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	if len(c.out) == 0 {
		c.out = nil
	}
	return n, nil
}

// process moves what it can from in to out.
func (c *hostConn) process() {
	for len(c.in) > 0 {
		switch {
		case c.raw:
			c.out, c.in = append(c.out, c.in...), nil
		case c.bodyLeft > 0:
			k := min(int64(len(c.in)), c.bodyLeft)
			c.out = append(c.out, c.in[:k]...)
			c.in, c.bodyLeft = c.in[k:], c.bodyLeft-k
		default:
			end := headEnd(c.in)
			if end < 0 {
				if len(c.in) > maxHead {
					c.raw = true
					continue
				}
				return
			}
			head := c.in[:end]
			c.in = c.in[end:]
			c.out = append(c.out, fixHead(head, &c.bodyLeft, &c.raw)...)
		}
	}
}

// headEnd is the length of the request head at the start of b, through
// its blank line, or -1 if b does not hold all of it. Blank lines before
// a request line are skipped as net/http skips them.
func headEnd(b []byte) int {
	start := 0
	for start < len(b) && (b[start] == '\r' || b[start] == '\n') {
		start++
	}
	for i := start; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// fixHead returns head with a Host line added when it lacks one, and reads
// the body's framing from it.
func fixHead(head []byte, bodyLeft *int64, raw *bool) []byte {
	lead := 0
	for lead < len(head) && (head[lead] == '\r' || head[lead] == '\n') {
		lead++
	}
	first := bytes.IndexByte(head[lead:], '\n')
	if first < 0 {
		return head
	}
	first += lead + 1
	hasHost := false
	for _, line := range strings.Split(string(head[first:]), "\n") {
		name, val, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "host":
			hasHost = true
		case "content-length":
			n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
			if err != nil || n < 0 {
				*raw = true
			} else {
				*bodyLeft = n
			}
		case "transfer-encoding":
			*raw = true
		}
	}
	if hasHost {
		return head
	}
	out := make([]byte, 0, len(head)+19)
	out = append(out, head[:first]...)
	out = append(out, "Host: 127.0.0.1\r\n"...)
	return append(out, head[first:]...)
}
