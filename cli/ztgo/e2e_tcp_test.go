package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/netlab"
)

// TestE2ETCPFallback: member a's UDP is blocked by nftables; it falls
// back to a ztgo tcp-relay and still pings b; when the block is lifted its
// traffic returns to UDP. The relay survives a client sending garbage.
func TestE2ETCPFallback(t *testing.T) {
	lab := netlab.New(t, "ping", "nft", "bash")
	bin := buildZtgo(t)
	dir := t.TempDir()
	sites := routedSites(t, lab, dir, "root", "a", "b", "relay")
	lab.Start(sites["relay"].ns, "relay", bin, "tcp-relay", "--listen", "198.18.4.2:443")
	privatePlanet(t, lab, bin, dir, "5a7e57e30", "198.18.1.2/9993", sites["root"], sites["root"].home, sites["a"].home, sites["b"].home)
	os.WriteFile(filepath.Join(sites["a"].home, "local.conf"), []byte(`{"settings":{"tcpFallbackRelay":"198.18.4.2/443","tcpFallbackAfterMs":3000}}`), 0o600)
	for _, n := range []string{"root", "a", "b"} {
		lab.Start(sites[n].ns, n, bin, "run", sites[n].home)
	}
	cli := func(s *site, args ...string) string {
		out, _ := lab.Run(s.ns, append([]string{bin}, append(args, "-D", s.home)...)...)
		return out
	}
	for _, n := range []string{"root", "a", "b"} {
		if !netlab.Eventually(30*time.Second, 200*time.Millisecond, func() bool { return strings.Contains(cli(sites[n], "info"), "ONLINE") }) {
			t.Fatalf("%s not online", n)
		}
	}
	// The root is also the network's controller.
	var netw map[string]any
	json.Unmarshal([]byte(cli(sites["root"], "controller", "network", "create", "--json",
		`{"private":false,"v4AssignMode":{"zt":true},"ipAssignmentPools":[{"ipRangeStart":"10.147.18.10","ipRangeEnd":"10.147.18.250"}],"routes":[{"target":"10.147.18.0/24"}]}`)), &netw)
	nwid, _ := netw["id"].(string)
	for _, n := range []string{"a", "b"} {
		cli(sites[n], "join", nwid)
	}
	ip := map[string]string{}
	for _, n := range []string{"a", "b"} {
		if !netlab.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
			f := strings.Fields(cli(sites[n], "get", nwid, "ip4"))
			if len(f) > 0 {
				ip[n] = f[0]
			}
			return len(f) > 0
		}) {
			t.Fatalf("%s got no address: %s", n, cli(sites[n], "listnetworks"))
		}
	}
	ping := func() bool {
		_, err := lab.Run(sites["a"].ns, "ping", "-c", "2", "-W", "1", "-i", "0.3", ip["b"])
		return err == nil
	}
	if !netlab.Eventually(20*time.Second, 200*time.Millisecond, ping) {
		t.Fatal("no ping over UDP")
	}
	// Garbage at the relay first: it must shrug it off.
	lab.Run(sites["b"].ns, "bash", "-c", "head -c 65536 /dev/urandom > /dev/tcp/198.18.4.2/443")
	// Block a's UDP both ways.
	rules := filepath.Join(dir, "block.nft")
	os.WriteFile(rules, []byte("table inet block {\n chain out { type filter hook output priority 0; meta l4proto udp drop; }\n chain in { type filter hook input priority 0; meta l4proto udp drop; }\n}\n"), 0o644)
	lab.Must(sites["a"].ns, "nft", "-f", rules)
	start := time.Now()
	if !netlab.Eventually(30*time.Second, 200*time.Millisecond, func() bool { return strings.Contains(cli(sites["a"], "info"), "TUNNELED") }) {
		t.Fatalf("no fallback: %s", cli(sites["a"], "info"))
	}
	t.Logf("tunneled after %v", time.Since(start))
	if !netlab.Eventually(60*time.Second, 500*time.Millisecond, ping) {
		t.Fatalf("no ping through the relay:\n%s", cli(sites["a"], "peers"))
	}
	t.Logf("ping through the relay after %v", time.Since(start))
	if !strings.Contains(cli(sites["a"], "peers"), "NOTE: Currently tunneling through a TCP relay") {
		t.Fatal("peers does not say it is tunneling")
	}
	// Lift the block: back to UDP.
	lab.Must(sites["a"].ns, "nft", "delete", "table", "inet", "block")
	start = time.Now()
	if !netlab.Eventually(30*time.Second, 200*time.Millisecond, func() bool { return strings.Contains(cli(sites["a"], "info"), "ONLINE") }) {
		t.Fatalf("still tunneled: %s", cli(sites["a"], "info"))
	}
	t.Logf("back on UDP after %v", time.Since(start))
	if !netlab.Eventually(20*time.Second, 200*time.Millisecond, ping) {
		t.Fatal("no ping after UDP came back")
	}
}
