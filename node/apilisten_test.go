package node

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rawRequests sends each request as it is on a fresh TCP connection to addr and
// reads its response, with no Go HTTP client involved on the way out.
func rawRequests(t *testing.T, addr string, reqs ...string) []*http.Response {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	var out []*http.Response
	for _, req := range reqs {
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%q: %v", req, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
		out = append(out, resp)
	}
	return out
}

func bodyOf(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

// zerotier-cli sends HTTP/1.1 without Host; zerotier-one answers.
func TestRequestWithoutHost(t *testing.T) {
	home := privateHome(t, rootSecret(t))
	n, stop := start(t, home)
	defer stop()
	addr := "127.0.0.1:" + itoa(n.Port())
	resps := rawRequests(t, addr,
		"GET /status HTTP/1.1\r\nX-ZT1-Auth: "+n.Token+"\r\n\r\n",
		// a body, then a second request on the same connection
		"POST /network/8056c2e21c000001 HTTP/1.1\r\nX-ZT1-Auth: "+n.Token+"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		"GET /network HTTP/1.1\r\nx-zt1-auth: "+n.Token+"\r\n\r\n",
		// a Host given is kept
		"GET /status HTTP/1.1\r\nHost: localhost\r\nX-ZT1-Auth: "+n.Token+"\r\n\r\n",
		"GET /status HTTP/1.1\nX-ZT1-Auth: wrong\n\n",
	)
	var st map[string]any
	if b := bodyOf(resps[0]); resps[0].StatusCode != 200 || json.Unmarshal([]byte(b), &st) != nil || st["address"] != "cbf31c2eda" {
		t.Fatalf("/status: %d %s", resps[0].StatusCode, b)
	}
	if b := bodyOf(resps[1]); resps[1].StatusCode != 200 || !strings.Contains(b, `"id":"8056c2e21c000001"`) {
		t.Fatalf("join: %d %s", resps[1].StatusCode, b)
	}
	var nets []map[string]any
	if b := bodyOf(resps[2]); resps[2].StatusCode != 200 || json.Unmarshal([]byte(b), &nets) != nil || len(nets) != 1 {
		t.Fatalf("/network: %d %s", resps[2].StatusCode, b)
	}
	if resps[3].StatusCode != 200 {
		t.Fatalf("with Host: %d", resps[3].StatusCode)
	}
	if b := bodyOf(resps[4]); resps[4].StatusCode != 401 || b != "{}" {
		t.Fatalf("bad token: %d %s", resps[4].StatusCode, b)
	}
}

func TestHostConnFraming(t *testing.T) {
	in := "GET / HTTP/1.1\r\nA: b\r\n\r\nPOST /x HTTP/1.1\r\ncontent-length: 5\r\n\r\nab\r\n\r" +
		"GET /y HTTP/1.1\r\nHOST: h\r\n\r\n" +
		"PUT /z HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /w HTTP/1.1\r\n\r\n"
	want := "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nA: b\r\n\r\nPOST /x HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-length: 5\r\n\r\nab\r\n\r" +
		"GET /y HTTP/1.1\r\nHOST: h\r\n\r\n" +
		"PUT /z HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /w HTTP/1.1\r\n\r\n"
	a, b := net.Pipe()
	go func() {
		// dribble the bytes in small writes to cross every boundary
		for i := 0; i < len(in); i += 3 {
			a.Write([]byte(in[i:min(i+3, len(in))]))
		}
		a.Close()
	}()
	got, err := io.ReadAll(&hostConn{Conn: b})
	if err != nil || string(got) != want {
		t.Fatalf("got %q, %v\nwant %q", got, err, want)
	}
}

func TestAllowManagementFrom(t *testing.T) {
	prefixes, bad := parseAllowManagementFrom([]any{"10.0.0.0/8", "192.168.1.5", "fd00::/8", "nonsense", 7})
	if len(prefixes) != 3 || len(bad) != 2 {
		t.Fatalf("parsed %v, bad %v", prefixes, bad)
	}
	for remote, want := range map[string]bool{
		"127.0.0.1:1": true, "[::1]:1": true, "10.9.8.7:1": true, "192.168.1.5:1": true,
		"192.168.1.6:1": false, "[fd12::1]:1": true, "[fe80::1]:1": false, "[::ffff:10.1.1.1]:1": true, "junk": false,
	} {
		if got := managementAllowed(remote, prefixes); got != want {
			t.Errorf("%s: %v, want %v", remote, got, want)
		}
	}

	// A real connection from this host's own non-loopback address.
	var own netip.Addr
	ifaddrs, _ := net.InterfaceAddrs()
	for _, a := range ifaddrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
			own = p.Addr()
			break
		}
	}
	if !own.IsValid() {
		t.Skip("no non-loopback IPv4 address to test from")
	}
	for _, c := range []struct {
		allow string
		ok    bool
	}{{own.Next().String() + "/32", false}, {own.String() + "/32", true}} {
		home := privateHome(t, rootSecret(t))
		conf := `{"settings":{"allowManagementFrom":["` + c.allow + `"]}}`
		if err := os.WriteFile(filepath.Join(home, "local.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		n, stop := start(t, home)
		addr := net.JoinHostPort(own.String(), itoa(n.Port()))
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			stop()
			t.Fatalf("%s: %v", c.allow, err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, "GET /status HTTP/1.1\r\nX-ZT1-Auth: "+n.Token+"\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		switch {
		case !c.ok && err == nil:
			t.Errorf("allow %s: a client at %s was answered %d", c.allow, own, resp.StatusCode)
		case c.ok && (err != nil || resp.StatusCode != 200):
			t.Errorf("allow %s: %v %v", c.allow, resp, err)
		}
		conn.Close()
		if c.ok {
			// the token is still required
			r := rawRequests(t, addr, "GET /status HTTP/1.1\r\nX-ZT1-Auth: wrong\r\n\r\n")
			if r[0].StatusCode != 401 {
				t.Errorf("no token from %s: %d", own, r[0].StatusCode)
			}
		}
		// loopback still works, over IPv4 and, when the host has it, IPv6
		if r := rawRequests(t, "127.0.0.1:"+itoa(n.Port()), "GET /status HTTP/1.1\r\nX-ZT1-Auth: "+n.Token+"\r\n\r\n"); r[0].StatusCode != 200 {
			t.Errorf("loopback: %d", r[0].StatusCode)
		}
		stop()
	}
}

func TestAPIOnIPv6Loopback(t *testing.T) {
	home := privateHome(t, rootSecret(t))
	n, stop := start(t, home)
	defer stop()
	if len(n.apiLns) < 2 {
		if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
			ln.Close()
			t.Fatal("the host has IPv6 loopback but the API does not listen on it")
		}
		t.Skip("no IPv6 loopback")
	}
	r := rawRequests(t, "[::1]:"+itoa(n.Port()), "GET /status HTTP/1.1\r\nX-ZT1-Auth: "+n.Token+"\r\n\r\n")
	if r[0].StatusCode != 200 {
		t.Fatalf("[::1]: %d %s", r[0].StatusCode, bodyOf(r[0]))
	}
}
