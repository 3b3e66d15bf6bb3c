package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/netlab"
)

// site is one machine of an e2e lab: its namespace and home directory.
type site struct {
	name, ns, home string
}

// TestE2ENetworkWithTaps: root, controller and two members as separate
// `ztgo run` processes with real TAP interfaces, each in its own
// namespace behind a core router. The controller makes a network with
// IPv4 and rfc4193 IPv6, the members join and are authorized through the
// CLI, ping each other both ways with the kernel's ping, and a
// deauthorized member loses its addresses at once.
func TestE2ENetworkWithTaps(t *testing.T) {
	lab := netlab.New(t, "ping", "iperf3")
	bin := buildZtgo(t)
	dir := t.TempDir()
	sites := routedSites(t, lab, dir, "root", "ctl", "a", "b")
	var homes []string
	for _, s := range sites {
		homes = append(homes, s.home)
	}
	privatePlanet(t, lab, bin, dir, "5a7e57e2f", "198.18.1.2/9993", sites["root"], homes...)
	procs, cli := startSites(t, lab, bin, sites)
	nwid := createNetwork(t, cli, sites["ctl"], `{"name":"e2e","v4AssignMode":{"zt":true},"v6AssignMode":{"rfc4193":true},"ipAssignmentPools":[{"ipRangeStart":"10.147.17.10","ipRangeEnd":"10.147.17.250"}],"routes":[{"target":"10.147.17.0/24"},{"target":"10.200.0.0/16","via":"10.147.17.1"}]}`)
	joinAuthorized(t, cli, sites["ctl"], nwid, sites["a"], sites["b"])
	// listnetworks as zerotier-cli prints it: OK with a tap and addresses.
	ips := map[string][2]string{}
	for _, m := range []string{"a", "b"} {
		if !netlab.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
			for _, line := range strings.Split(cli(sites[m], "listnetworks"), "\n") {
				f := strings.Fields(line)
				if len(f) == 9 && f[2] == nwid && f[5] == "OK" && strings.HasPrefix(f[7], "zt") && strings.Contains(f[8], "10.147.17.") {
					var v4, v6 string
					for _, p := range strings.Split(f[8], ",") {
						pfx, err := netip.ParsePrefix(p)
						if err == nil && pfx.Addr().Is4() {
							v4 = pfx.Addr().String()
						} else if err == nil {
							v6 = pfx.Addr().String()
						}
					}
					ips[m] = [2]string{v4, v6}
					return v4 != "" && v6 != ""
				}
			}
			return false
		}) {
			t.Fatalf("%s: %s", m, cli(sites[m], "listnetworks"))
		}
	}
	// The managed route through a gateway on the network is installed.
	if out, _ := lab.Run(sites["a"].ns, "ip", "route", "show", "10.200.0.0/16"); !strings.Contains(out, "via 10.147.17.1 dev zt") {
		t.Fatalf("gatewayed managed route missing:\n%s", out)
	}
	ping := func(from *site, args ...string) error {
		_, err := lab.Run(from.ns, append([]string{"ping", "-c", "3", "-W", "2", "-i", "0.2"}, args...)...)
		return err
	}
	for _, p := range [][2]string{{"a", "b"}, {"b", "a"}} {
		from, to := sites[p[0]], ips[p[1]]
		if err := ping(from, to[0]); err != nil {
			t.Fatalf("IPv4 ping %s -> %s failed", p[0], to[0])
		}
		if err := ping(from, "-6", to[1]); err != nil {
			t.Fatalf("IPv6 ping %s -> %s failed", p[0], to[1])
		}
	}
	// A TCP stream across the network.
	iperf := lab.Start(sites["b"].ns, "iperf3-server", "iperf3", "-s", "-1", "-B", ips["b"][0])
	netlab.Eventually(5*time.Second, 100*time.Millisecond, func() bool { return strings.Contains(iperf.Output(), "listening") })
	if out, err := lab.Run(sites["a"].ns, "iperf3", "-c", ips["b"][0], "-t", "2"); err != nil || !strings.Contains(out, "receiver") {
		t.Fatalf("iperf3: %v\n%s", err, out)
	} else {
		t.Logf("iperf3 a -> b:\n%s", lastLines(out, 4))
	}
	// Leave and rejoin: the tap goes away and comes back with the address.
	cli(sites["a"], "leave", nwid)
	if out, _ := lab.Run(sites["a"].ns, "ip", "-o", "link"); strings.Contains(out, ": zt") {
		t.Fatalf("tap left behind after leave:\n%s", out)
	}
	cli(sites["a"], "join", nwid)
	if !netlab.Eventually(20*time.Second, 200*time.Millisecond, func() bool { return ping(sites["a"], ips["b"][0]) == nil }) {
		t.Fatal("no ping after leave and rejoin")
	}
	// A member restart keeps its identity and address; a controller
	// restart keeps its networks.
	idBefore, _ := os.ReadFile(filepath.Join(sites["a"].home, "identity.public"))
	procs["a"].Stop()
	procs["ctl"].Stop()
	procs["a"] = lab.Start(sites["a"].ns, "a2", bin, "run", sites["a"].home)
	procs["ctl"] = lab.Start(sites["ctl"].ns, "ctl2", bin, "run", sites["ctl"].home)
	if !netlab.Eventually(30*time.Second, 200*time.Millisecond, func() bool { return ping(sites["a"], ips["b"][0]) == nil && ping(sites["b"], ips["a"][0]) == nil }) {
		t.Fatalf("no ping after restarts: %s", cli(sites["a"], "listnetworks"))
	}
	if idAfter, _ := os.ReadFile(filepath.Join(sites["a"].home, "identity.public")); string(idAfter) != string(idBefore) {
		t.Fatal("identity changed across a restart")
	}
	if !netlab.Eventually(10*time.Second, 200*time.Millisecond, func() bool {
		return strings.Contains(cli(sites["ctl"], "controller", "network", "show", nwid), `"name": "e2e"`)
	}) {
		t.Fatal("controller lost its network across a restart")
	}
	// zerotier-cli's peers output parses: the header and one line per peer.
	peers := strings.Split(strings.TrimSpace(cli(sites["a"], "peers")), "\n")
	if peers[0] != "200 peers" || peers[1] != "<ztaddr>   <ver>  <role> <lat> <link>   <lastTX> <lastRX> <path>" || len(peers) < 4 {
		t.Fatalf("peers output:\n%s", strings.Join(peers, "\n"))
	}
	// Deauthorize b: it drops its addresses within a second, and a can no
	// longer reach it.
	cli(sites["ctl"], "controller", "member", "deauthorize", nwid, addrOf(sites["b"]))
	start := time.Now()
	if !netlab.Eventually(time.Second, 20*time.Millisecond, func() bool {
		out, _ := lab.Run(sites["b"].ns, "ip", "-o", "addr", "show")
		return !strings.Contains(out, ips["b"][0])
	}) {
		out, _ := lab.Run(sites["b"].ns, "ip", "-o", "addr", "show")
		t.Fatalf("deauthorized member still has its address after 1 s:\n%s", out)
	}
	t.Logf("deauthorized member dropped its addresses after %v", time.Since(start))
	if out, _ := lab.Run(sites["b"].ns, "ip", "route", "show", "10.200.0.0/16"); strings.Contains(out, "via") {
		t.Fatalf("deauthorized member keeps the managed route:\n%s", out)
	}
	if err := ping(sites["a"], ips["b"][0]); err == nil {
		t.Fatal("deauthorized member still answers pings")
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
