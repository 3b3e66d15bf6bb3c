package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/netlab"
)

// buildZtgo compiles the binary for a test. Not with -race: the race
// detector slows the identity proof of work tenfold, and the in-process
// tests already run every code path under it.
func buildZtgo(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ztgo")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build ships it
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestE2ERelayThenDirect runs a root and two nodes as separate `ztgo run`
// processes on real UDP, each node behind its own masquerading router,
// the routers and the root joined by a core router (the "internet"):
//
//	nodeA 198.19.1.2 ── routerA 198.18.2.2 ─┐
//	                                         core ── root 198.18.1.2
//	nodeB 198.19.2.2 ── routerB 198.18.3.2 ─┘
//
// The core is a routed hop on purpose: ZeroTier's hole punch opens the
// sender's own NAT with a TTL-2 datagram that must die before the far NAT,
// as it would on the internet. The first ping between the nodes is relayed
// by the root; then a direct path through both NATs forms, as `ztgo peers`
// shows.
func TestE2ERelayThenDirect(t *testing.T) {
	lab := netlab.New(t, "nft")
	bin := buildZtgo(t)
	dir := t.TempDir()
	core := lab.NS("core")
	lab.Must(core, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	root := lab.NS("root")
	lab.Pair(core, "root0", "198.18.1.1/24", root, "wan0", "198.18.1.2/24")
	lab.Must(root, "ip", "route", "add", "198.18.0.0/15", "via", "198.18.1.1")
	var nodes []string
	for i, name := range []string{"a", "b"} {
		router := lab.NS("r" + name)
		node := lab.NS(name)
		lab.Pair(core, "site"+name, fmt.Sprintf("198.18.%d.1/24", i+2), router, "wan0", fmt.Sprintf("198.18.%d.2/24", i+2))
		lab.Must(router, "ip", "route", "add", "198.18.0.0/16", "via", fmt.Sprintf("198.18.%d.1", i+2))
		lab.Pair(router, "lan0", fmt.Sprintf("198.19.%d.1/24", i+1), node, "eth0", fmt.Sprintf("198.19.%d.2/24", i+1))
		lab.Must(node, "ip", "route", "add", "198.18.0.0/16", "via", fmt.Sprintf("198.19.%d.1", i+1))
		lab.Masquerade(router, "wan0")
		nodes = append(nodes, node)
	}

	// A private planet whose only root is ours: never the public one.
	homes := map[string]string{}
	for _, n := range []string{"root", "a", "b"} {
		homes[n] = filepath.Join(dir, n)
		os.MkdirAll(homes[n], 0o700)
	}
	lab.Must("", bin, "identity", "generate", filepath.Join(homes["root"], "identity.secret"), filepath.Join(homes["root"], "identity.public"))
	pub, _ := os.ReadFile(filepath.Join(homes["root"], "identity.public"))
	spec := fmt.Sprintf(`{"worldType":"planet","id":"5a7e57e2e","roots":[{"identity":%q,"stableEndpoints":["198.18.1.2/9993"]}]}`, strings.TrimSpace(string(pub)))
	os.WriteFile(filepath.Join(dir, "planet.json"), []byte(spec), 0o644)
	lab.Must("", bin, "world", "create", filepath.Join(dir, "planet.json"), "--key", filepath.Join(dir, "planet.key"), "-o", filepath.Join(dir, "planet"))
	planet, _ := os.ReadFile(filepath.Join(dir, "planet"))
	for _, h := range homes {
		os.WriteFile(filepath.Join(h, "planet"), planet, 0o644)
	}

	lab.Start(root, "root", bin, "run", "-p9993", "--log-level", "debug", homes["root"])
	lab.Start(nodes[0], "a", bin, "run", "-p", "9993", "--log-level", "debug", homes["a"])
	lab.Start(nodes[1], "b", bin, "run", "--log-level", "debug", homes["b"]+"/")

	cli := func(ns, home string, args ...string) string {
		out, _ := lab.Run(ns, append([]string{bin}, append(args, "-D", home)...)...)
		return out
	}
	// Both nodes come online: the root answers their HELLOs.
	for i, n := range []string{"a", "b"} {
		if !netlab.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
			return strings.Contains(cli(nodes[i], homes[n], "info"), "ONLINE")
		}) {
			t.Fatalf("%s not online: %s", n, cli(nodes[i], homes[n], "info"))
		}
	}
	addrOf := func(n string) string {
		b, _ := os.ReadFile(filepath.Join(homes[n], "identity.public"))
		return string(b[:10])
	}
	a, b := addrOf("a"), addrOf("b")

	// First contact: WHOIS, then the ECHO and its reply go through the root.
	first := cli(nodes[0], homes["a"], "ping", "-c", "1", "-W", "10s", b)
	if !strings.Contains(first, "reply from "+b) || !strings.Contains(first, "(relayed)") {
		t.Fatalf("first ping not answered through the root: %q", first)
	}
	// Then the root's RENDEZVOUS punches through both NATs.
	direct := func(ns, home, peer, via string) bool {
		for _, line := range strings.Split(cli(ns, home, "peers"), "\n") {
			if strings.HasPrefix(line, peer) && strings.Contains(line, "DIRECT") && strings.Contains(line, via) {
				return true
			}
		}
		return false
	}
	if !netlab.Eventually(30*time.Second, 500*time.Millisecond, func() bool {
		cli(nodes[0], homes["a"], "ping", "-c", "1", b)
		return direct(nodes[0], homes["a"], b, "198.18.3.2/") && direct(nodes[1], homes["b"], a, "198.18.2.2/")
	}) {
		t.Fatalf("no direct path:\nA: %s\nB: %s", cli(nodes[0], homes["a"], "peers"), cli(nodes[1], homes["b"], "peers"))
	}
	if out := cli(nodes[0], homes["a"], "ping", "-c", "2", b); strings.Count(out, "(direct)") != 2 {
		t.Fatalf("pings not direct after the path formed: %q", out)
	}
	t.Logf("A's peers:\n%s", cli(nodes[0], homes["a"], "peers"))
}
