// Package dnstest runs a private D-Bus daemon with a stand-in for
// systemd-resolved's Manager object that records the calls it gets, for
// tests of the DNS port against real D-Bus traffic.
package dnstest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/ztgo/ztgo/internal/netlab"
)

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=SOCKET</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// Bus starts a private dbus-daemon for the test and returns its address.
// Without dbus-daemon the test skips, or fails when ZTGO_E2E=1.
func Bus(t testing.TB) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		msg := "dbus-daemon not installed (Debian package dbus)"
		if netlab.Required() {
			t.Fatalf("ZTGO_E2E=1 but %s", msg)
		}
		t.Skipf("skipping D-Bus test: %s", msg)
	}
	dir, err := os.MkdirTemp("", "ztgo-dbus")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "bus.conf")
	text := strings.Replace(busConfig, "SOCKET", filepath.Join(dir, "bus"), 1)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--nofork", "--print-address", "--config-file="+conf)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Its complaints (it cannot raise its fd limit unprivileged, ...) are
	// shown only when the test fails.
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("dbus-daemon: %s", stderr.Bytes())
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case addr := <-line:
		if addr == "" {
			t.Fatal("dbus-daemon printed no address")
		}
		return addr
	case <-time.After(10 * time.Second):
		t.Fatal("dbus-daemon did not start")
	}
	return ""
}

// Server is one entry of SetLinkDNS's a(iay).
type Server struct {
	Family  int32
	Address []byte
}

// Domain is one entry of SetLinkDomains's a(sb).
type Domain struct {
	Domain      string
	RoutingOnly bool
}

// Call is one method call the stand-in received.
type Call struct {
	Method  string // SetLinkDNS, SetLinkDomains or RevertLink
	Index   int32
	Servers []Server
	Domains []Domain
}

// Resolved stands in for systemd-resolved: it owns org.freedesktop.resolve1
// on a bus and records the calls to its Manager object.
type Resolved struct {
	mu    sync.Mutex
	calls []Call
}

// NewResolved exports a recording Manager on the bus at address.
func NewResolved(t testing.TB, address string) *Resolved {
	t.Helper()
	conn, err := dbus.Connect(address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r := &Resolved{}
	if err := conn.Export(manager{r}, "/org/freedesktop/resolve1", "org.freedesktop.resolve1.Manager"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName("org.freedesktop.resolve1", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own org.freedesktop.resolve1: %v %v", reply, err)
	}
	return r
}

// Calls returns the calls received so far and forgets them.
func (r *Resolved) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// WaitCalls waits up to 10 seconds for n calls and returns and forgets
// them; fewer if they do not come.
func (r *Resolved) WaitCalls(n int) []Call {
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		k := len(r.calls)
		r.mu.Unlock()
		if k >= n || time.Now().After(deadline) {
			return r.Calls()
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *Resolved) record(c Call) *dbus.Error {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return nil
}

// manager holds the exported methods, named as resolved's.
type manager struct{ r *Resolved }

func (m manager) SetLinkDNS(index int32, servers []Server) *dbus.Error {
	return m.r.record(Call{Method: "SetLinkDNS", Index: index, Servers: servers})
}

func (m manager) SetLinkDomains(index int32, domains []Domain) *dbus.Error {
	return m.r.record(Call{Method: "SetLinkDomains", Index: index, Domains: domains})
}

func (m manager) RevertLink(index int32) *dbus.Error {
	return m.r.record(Call{Method: "RevertLink", Index: index})
}
