package portmap

import (
	"context"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huin/goupnp/dcps/internetgateway2"

	"github.com/ztgo/ztgo/internal/netlab"
)

// innerEnv tells the re-executed test binary that it runs inside the
// client namespace, and where the gateway's LAN address is.
const innerEnv = "ZTGO_PORTMAP_GATEWAY"

// TestMiniupnpd runs the mapper against a real IGD: Debian's miniupnpd in
// a router namespace, with the mapper in a client namespace behind it
// (the test binary re-executed there, TestInsideLAN):
//
//	client 198.19.0.2 ── lan0 router wan0 198.18.0.2 ── stun 198.18.0.1
func TestMiniupnpd(t *testing.T) {
	if os.Getenv(innerEnv) != "" {
		t.Skip("inner run")
	}
	lab := netlab.New(t, "nft", "miniupnpd")
	stun, router, client := lab.NS("stun"), lab.NS("router"), lab.NS("client")
	lab.Pair(router, "wan0", "198.18.0.2/24", stun, "eth0", "198.18.0.1/24")
	lab.Pair(router, "lan0", "198.19.0.1/24", client, "eth0", "198.19.0.2/24")
	// SSDP's multicast needs a route; there is no default one.
	lab.Must(client, "ip", "route", "add", "224.0.0.0/4", "dev", "eth0")
	stunAddr := netip.MustParseAddrPort("198.18.0.1:3478")
	lab.ServeSTUN(stun, stunAddr)
	lab.MiniUPnPd(router, "wan0", "lan0", stunAddr)

	out, err := lab.Run(client, "env", innerEnv+"=198.19.0.1", os.Args[0], "-test.run=^TestInsideLAN$", "-test.v", "-test.count=1")
	t.Logf("inner run:\n%s", out)
	if err != nil || !strings.Contains(out, "--- PASS: TestInsideLAN") {
		t.Fatalf("inner run failed: %v", err)
	}
	// Every mapping is gone from the gateway's firewall.
	if rules := lab.Must(router, "nft", "list", "table", "inet", "miniupnpd"); strings.Contains(rules, "dnat") {
		t.Fatalf("mappings left on the gateway:\n%s", rules)
	}
}

// TestInsideLAN is TestMiniupnpd's client side: for UPnP and for NAT-PMP,
// the mapper maps, renews past the lease, and deletes on cancel.
func TestInsideLAN(t *testing.T) {
	gw := os.Getenv(innerEnv)
	if gw == "" {
		t.Skip("runs inside TestMiniupnpd's namespace")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	igds, _, err := internetgateway2.NewWANIPConnection2ClientsCtx(ctx)
	if err != nil || len(igds) == 0 {
		t.Fatalf("no IGD found: %v", err)
	}
	igd := igds[0]
	baseline := runtime.NumGoroutine()
	defer func() {
		// Every mapper goroutine ended with its context.
		if !netlab.Eventually(5*time.Second, 50*time.Millisecond, func() bool { return runtime.NumGoroutine() <= baseline }) {
			buf := make([]byte, 1<<16)
			t.Errorf("goroutines: %d, were %d\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
	}()
	present := func(port uint16) (bool, uint32) {
		_, _, _, _, lease, err := igd.GetSpecificPortMappingEntryCtx(ctx, "", port, "UDP")
		return err == nil, lease
	}
	for _, tc := range []struct {
		name    string
		gateway netip.Addr
		port    uint16
	}{
		// No default route here: no NAT-PMP gateway, so UPnP is used.
		{"upnp", netip.Addr{}, 40001},
		{"natpmp", netip.MustParseAddr(gw), 40002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []netip.AddrPort
			m := New(Config{Port: tc.port, Description: "ZeroTier/test@" + tc.name, Refresh: 2 * time.Second, Gateway: tc.gateway,
				OnChange: func(ap netip.AddrPort) { mu.Lock(); seen = append(seen, ap); mu.Unlock() }})
			mctx, mcancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { m.Run(mctx); close(done) }()
			defer func() { mcancel(); <-done }()
			want := netip.AddrPortFrom(netip.MustParseAddr("198.18.0.2"), tc.port)
			if !netlab.Eventually(20*time.Second, 100*time.Millisecond, func() bool { return m.External() == want }) {
				t.Fatalf("not mapped to %s: %s", want, m.External())
			}
			if ok, lease := present(tc.port); !ok || lease == 0 || lease > 4 {
				t.Fatalf("gateway's entry: present %v, lease %d s; want a 4 s lease", ok, lease)
			}
			// Past two lease lengths the mapping is still there: renewed.
			time.Sleep(9 * time.Second)
			if ok, _ := present(tc.port); !ok || m.External() != want {
				t.Fatalf("mapping not renewed: present %v, external %s", ok, m.External())
			}
			mcancel()
			<-done
			if ok, _ := present(tc.port); ok {
				t.Fatal("mapping not deleted on shutdown")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 2 || seen[0] != want || seen[1].IsValid() {
				t.Fatalf("OnChange saw %v, want [%s, none]", seen, want)
			}
		})
	}
}
