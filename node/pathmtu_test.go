package node

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
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
// second. It returns the paths' links. Without bonding in conf it waits
// for a's paths to b (their links are "").
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
		if pi, ok := a.VL1.Peer(b.VL1.Address()); ok {
			for _, pa := range pi.Paths {
				if pa.Bond != nil {
					l = append(l, pa.Bond.Ifname)
				} else if !a.VL1.Bonding() {
					l = append(l, "")
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

// piecesArriving sends count NOPs from a to b, 1228-byte packets (one
// datagram at the default MTU, three at 600) unless size says otherwise,
// and returns how many datagrams more than packets b received meanwhile:
// the fragments.
func piecesArriving(t *testing.T, a, b *Node, count int, size ...int) uint64 {
	t.Helper()
	payload := make([]byte, 1200)
	if len(size) > 0 {
		payload = make([]byte, size[0]-wire.IdxPayload)
	}
	before := b.VL1.Stats()
	for range count {
		if _, err := a.VL1.Send(b.VL1.Address(), wire.VerbNOP, payload, false); err != nil {
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

// TestPhysicalMTUOnTheWire: local.conf's physical.<cidr>.mtu is the MTU of
// every path to an address in that network, bonded or not: 1420-byte
// packets cross whole at the default 1432 and in two pieces at 1400
// (1.14.1's smallest).
func TestPhysicalMTUOnTheWire(t *testing.T) {
	a, b, _ := bondedRootAndLeaf(t, `{"settings":{"defaultBondingPolicy":"active-backup","bindInterfaces":false}}`)
	if f := piecesArriving(t, a, b, 20, 1420); f > 5 {
		t.Fatalf("no physical mtu: %d fragments for 20 1420-byte packets", f)
	}
	a2, b2, _ := bondedRootAndLeaf(t, `{"physical":{"127.0.0.0/8":{"mtu":1000}}}`) // no bond: any path
	if f := piecesArriving(t, a2, b2, 20, 1420); f < 20 {
		t.Fatalf("physical 127.0.0.0/8 mtu 1000 (taken as 1400): %d fragments for 20 1420-byte packets, want 20", f)
	}
}

// TestPhysicalMTUParse: the networks and MTUs as 1.14.1 orders, clamps
// and matches them.
func TestPhysicalMTUParse(t *testing.T) {
	got := physicalMTU(map[string]any{"physical": map[string]any{
		"10.1.0.0/16":    map[string]any{"mtu": 9000.0},
		"10.0.0.0/8":     map[string]any{"mtu": 1500.0},
		"192.168.0.0/16": map[string]any{"blacklist": true},
		"172.16.0.0/12":  map[string]any{"mtu": 100.0},
		"10.2.0.0/16":    map[string]any{"mtu": 20000.0},
		"2001:db8::/32":  map[string]any{"mtu": 1450.0},
		"2001:db8::1/64": map[string]any{"mtu": 1450.0}, // host bits: matches nothing in 1.14.1
		"junk":           map[string]any{"mtu": 1500.0},
		"10.3.0.0/16":    "not an object",
	}})
	want := []vl1.PhysicalMTU{
		{Network: netip.MustParsePrefix("10.0.0.0/8"), MTU: 1500},
		{Network: netip.MustParsePrefix("172.16.0.0/12"), MTU: 1400},
		{Network: netip.MustParsePrefix("10.1.0.0/16"), MTU: 9000},
		{Network: netip.MustParsePrefix("10.2.0.0/16"), MTU: 10324},
		{Network: netip.MustParsePrefix("192.168.0.0/16"), MTU: wire.DefaultPhysMTU},
		{Network: netip.MustParsePrefix("2001:db8::/32"), MTU: 1450},
	}
	if !slices.Equal(got, want) {
		t.Errorf("physicalMTU:\n got %v\nwant %v", got, want)
	}
	// A bare IPv4 address is a /0 in 1.14.1: every IPv4 address.
	got = physicalMTU(map[string]any{"physical": map[string]any{"1.2.3.4": map[string]any{"mtu": 1400.0}}})
	if len(got) != 1 || got[0].Network != netip.MustParsePrefix("0.0.0.0/0") {
		t.Errorf("bare address: %v", got)
	}
}
