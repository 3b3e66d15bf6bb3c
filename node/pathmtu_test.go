package node

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/testplanet"
	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// bondedRootAndLeaf starts a root a whose local.conf is conf (bonding, so
// a holds a bond for its leaf) and a leaf b of it over loopback, and waits
// until a's bond for b holds b's paths (b reaches a on more than one of
// a's sockets: a path per socket) and no new one has come for half a
// second. It returns the paths' links.
func bondedRootAndLeaf(t *testing.T, conf string) (a, b *Node, links []string) {
	t.Helper()
	rootID, err := identity.Parse(rootSecret(t))
	if err != nil {
		t.Fatal(err)
	}
	aHome := privateHome(t, rootSecret(t))
	if err := os.WriteFile(filepath.Join(aHome, "local.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	a, stopA := startWith(t, Options{Home: aHome, Logger: slog.New(slog.DiscardHandler), AllowLoopback: true})
	t.Cleanup(stopA)
	secret, err := os.ReadFile("../testdata/captures/basic/controller.identity.secret")
	if err != nil {
		t.Fatal(err)
	}
	bHome := t.TempDir()
	os.WriteFile(filepath.Join(bHome, "identity.secret"), secret, 0o600)
	os.WriteFile(filepath.Join(bHome, "planet"), testplanet.Single(rootID, 77, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), a.Port())), 0o644)
	b, stopB := startWith(t, Options{Home: bHome, Logger: slog.New(slog.DiscardHandler), AllowLoopback: true})
	t.Cleanup(stopB)
	bonded := func() []string {
		var l []string
		if pi, ok := a.VL1.Peer(b.VL1.Address()); ok && pi.Bond != nil {
			for _, pa := range pi.Paths {
				if pa.Bond != nil {
					l = append(l, pa.Bond.Ifname)
				}
			}
		}
		return l
	}
	var since time.Time
	waitFor(t, "a's bond for b to hold b's paths", func() bool {
		if l := bonded(); len(l) == 0 || len(l) != len(links) {
			links, since = l, time.Now()
			return false
		}
		return len(links) > 0 && time.Since(since) > 500*time.Millisecond
	})
	return a, b, links
}

// piecesArriving sends count 1200-byte NOPs from a to b (1228-byte
// packets: one datagram at the default MTU, three at 600) and returns how
// many datagrams more than packets b received meanwhile: the fragments.
func piecesArriving(t *testing.T, a, b *Node, count int) uint64 {
	t.Helper()
	before := b.VL1.Stats()
	for range count {
		if _, err := a.VL1.Send(b.VL1.Address(), wire.VerbNOP, make([]byte, 1200), false); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until b has every NOP.
	var after vl1.Stats
	deadline := time.Now().Add(10 * time.Second)
	for {
		after = b.VL1.Stats()
		if after.ByVerbReceived[wire.VerbNOP]-before.ByVerbReceived[wire.VerbNOP] >= uint64(count) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := after.ByVerbReceived[wire.VerbNOP] - before.ByVerbReceived[wire.VerbNOP]; got != uint64(count) {
		t.Fatalf("b received %d of %d NOPs", got, count)
	}
	dg := after.DatagramsReceived - before.DatagramsReceived
	pk := (after.PacketsReceived + after.HellosReceived) - (before.PacketsReceived + before.HellosReceived)
	if dg < pk {
		return 0
	}
	return dg - pk
}

// TestBondSetMTUOnTheWire: POST /bond/setmtu makes a send on the bonded
// path at that MTU — the same NOPs that crossed whole arrive in pieces —
// and answers as 1.14.1 for a link or address with no bonded path.
func TestBondSetMTUOnTheWire(t *testing.T) {
	a, b, links := bondedRootAndLeaf(t, `{"settings":{"defaultBondingPolicy":"active-backup","bindInterfaces":false}}`)
	if f := piecesArriving(t, a, b, 20); f > 5 {
		t.Fatalf("before setmtu: %d fragments for 20 packets that fit the MTU", f)
	}
	for _, c := range []struct {
		path string
		code int
		body string
	}{
		{"/bond/setmtu/600/" + links[0] + "/127.0.0.2", 400, "Unable to find specified link"},
		{"/bond/setmtu/600/nosuchif/127.0.0.1", 400, "Unable to find specified link"},
	} {
		if code, body, _ := call(t, a, "POST", c.path, ""); code != c.code || body != c.body {
			t.Fatalf("POST %s: %d %q, want %d %q", c.path, code, body, c.code, c.body)
		}
	}
	if f := piecesArriving(t, a, b, 20); f > 5 {
		t.Fatalf("after setmtu found nothing: %d fragments for 20 packets that fit the MTU", f)
	}
	// Every path to b (the route may be any of them).
	for _, l := range links {
		if code, body, _ := call(t, a, "POST", "/bond/setmtu/600/"+l+"/127.0.0.1", ""); code != 200 || body != "{}" {
			t.Fatalf("setmtu on %s: %d %q, want 200 {}", l, code, body)
		}
	}
	if f := piecesArriving(t, a, b, 20); f < 40 {
		t.Fatalf("after setmtu 600: %d fragments for 20 1228-byte packets, want 40", f)
	}
}

// TestBondLinkMTUOnTheWire: a link's mtu in local.conf
// (settings.policies.<name>.links.<ifname>.mtu) is the MTU of its paths.
func TestBondLinkMTUOnTheWire(t *testing.T) {
	// Every socket a may have (a path per socket of a that b reaches).
	var links []string
	for i := range 8 {
		links = append(links, `"socket`+strconv.Itoa(i)+`":{"mtu":600}`)
	}
	conf := `{"settings":{"defaultBondingPolicy":"p","bindInterfaces":false,
		"policies":{"p":{"basePolicy":"active-backup","links":{` + strings.Join(links, ",") + `}}}}}`
	a, b, bonded := bondedRootAndLeaf(t, conf)
	for _, l := range bonded {
		if !strings.HasPrefix(l, "socket") {
			t.Fatalf("a loopback path's link is %q, not a socket of its own", l)
		}
	}
	if f := piecesArriving(t, a, b, 20); f < 40 {
		t.Fatalf("link mtu 600: %d fragments for 20 1228-byte packets, want 40", f)
	}
}
