package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/netlab"
)

// TestE2EPortMapping: member b sits behind a router that runs miniupnpd
// and masquerades with a random source port per connection, a
// symmetric-like NAT no hole punch gets through; member a sits behind a
// plain masquerading router:
//
//	a 198.19.1.2 ── ra 198.18.2.2 ─┐
//	                                core ── root+controller 198.18.1.2
//	b 198.19.2.2 ── rb 198.18.3.2 ─┘   (STUN for miniupnpd at 198.18.3.1)
//
// With portMappingEnabled (the default) b maps its tertiary port on rb
// through UPnP IGD, pushes rb's address and the mapped port to a, and a
// reaches b there: a direct path. With portMappingEnabled false the same
// traffic stays relayed by the root.
func TestE2EPortMapping(t *testing.T) {
	for _, mapping := range []bool{true, false} {
		t.Run(fmt.Sprintf("portMappingEnabled=%v", mapping), func(t *testing.T) { portMappingLab(t, mapping) })
	}
}

func portMappingLab(t *testing.T, mapping bool) {
	lab := netlab.New(t, "nft", "ping", "miniupnpd")
	bin := buildZtgo(t)
	dir := t.TempDir()
	core := lab.NS("core")
	lab.Must(core, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	sites := map[string]*site{}
	for _, n := range []string{"root", "a", "b"} {
		sites[n] = &site{name: n, home: filepath.Join(dir, n)}
		os.MkdirAll(sites[n].home, 0o700)
	}
	sites["root"].ns = lab.NS("root")
	lab.Pair(core, "root0", "198.18.1.1/24", sites["root"].ns, "wan0", "198.18.1.2/24")
	lab.Must(sites["root"].ns, "ip", "route", "add", "198.18.0.0/15", "via", "198.18.1.1")
	stun := netip.MustParseAddrPort("198.18.3.1:3478")
	for i, name := range []string{"a", "b"} {
		router := lab.NS("r" + name)
		s := sites[name]
		s.ns = lab.NS(name)
		lab.Pair(core, "site"+name, fmt.Sprintf("198.18.%d.1/24", i+2), router, "wan0", fmt.Sprintf("198.18.%d.2/24", i+2))
		lab.Must(router, "ip", "route", "add", "198.18.0.0/16", "via", fmt.Sprintf("198.18.%d.1", i+2))
		lab.Pair(router, "lan0", fmt.Sprintf("198.19.%d.1/24", i+1), s.ns, "eth0", fmt.Sprintf("198.19.%d.2/24", i+1))
		lab.Must(s.ns, "ip", "route", "add", "198.18.0.0/16", "via", fmt.Sprintf("198.19.%d.1", i+1))
		if name == "a" {
			lab.Masquerade(router, "wan0")
			continue
		}
		lab.MasqueradeRandom(router, "wan0", "198.19.2.0/24")
		lab.ServeSTUN(core, stun)
		lab.MiniUPnPd(router, "wan0", "lan0", stun)
		// SSDP's multicast needs a route; there is no default one.
		lab.Must(s.ns, "ip", "route", "add", "224.0.0.0/4", "dev", "eth0")
		os.WriteFile(filepath.Join(s.home, "local.conf"), []byte(fmt.Sprintf(`{"settings":{"portMappingEnabled":%v}}`, mapping)), 0o644)
	}
	privatePlanet(t, lab, bin, dir, "5a7e57e30", "198.18.1.2/9993", sites["root"], sites["root"].home, sites["a"].home, sites["b"].home)
	procs, cli := startSites(t, lab, bin, sites, "--log-level", "debug")
	// A network on the root's controller: direct paths are pushed only
	// between peers that exchange network traffic (trust).
	nwid := createNetwork(t, cli, sites["root"], `{"name":"upnp","v4AssignMode":{"zt":true},"ipAssignmentPools":[{"ipRangeStart":"10.147.18.10","ipRangeEnd":"10.147.18.250"}],"routes":[{"target":"10.147.18.0/24"}]}`)
	joinAuthorized(t, cli, sites["root"], nwid, sites["a"], sites["b"])
	var ipB string
	if !netlab.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
		ready := 0
		for _, m := range []string{"a", "b"} {
			for _, line := range strings.Split(cli(sites[m], "listnetworks"), "\n") {
				f := strings.Fields(line)
				if len(f) == 9 && f[2] == nwid && f[5] == "OK" && strings.Contains(f[8], "10.147.18.") {
					ready++
					if m == "b" {
						ipB = strings.Split(strings.Split(f[8], ",")[0], "/")[0]
					}
				}
			}
		}
		return ready == 2
	}) {
		t.Fatalf("members not on the network:\na: %s\nb: %s", cli(sites["a"], "listnetworks"), cli(sites["b"], "listnetworks"))
	}
	// With the mapping, b logs rb's address and the mapped port.
	mapped := "198.18.3.2/"
	if mapping {
		if !netlab.Eventually(20*time.Second, 200*time.Millisecond, func() bool { return strings.Contains(procs["b"].Output(), "external=198.18.3.2:") }) {
			t.Fatal("b never mapped its tertiary port on rb")
		}
		out := procs["b"].Output()
		ext := strings.Fields(out[strings.Index(out, "external=198.18.3.2:")+len("external="):])[0]
		mapped = strings.Replace(ext, ":", "/", 1)
	}
	// a's peer line for b says DIRECT over rb's address (and with the
	// mapping, over the mapped port).
	direct := func() bool {
		for _, line := range strings.Split(cli(sites["a"], "peers"), "\n") {
			f := strings.Fields(line)
			if len(f) == 8 && f[0] == addrOf(sites["b"]) && f[4] == "DIRECT" && strings.HasPrefix(f[7], mapped) {
				return !mapping || f[7] == mapped
			}
		}
		return false
	}
	answered := false
	got := netlab.Eventually(40*time.Second, 500*time.Millisecond, func() bool {
		if _, err := lab.Run(sites["a"].ns, "ping", "-c", "2", "-W", "1", "-i", "0.2", ipB); err == nil {
			answered = true
		}
		return direct()
	})
	t.Logf("a's peers:\n%s", cli(sites["a"], "peers"))
	if !answered {
		t.Fatal("a's pings to b never answered")
	}
	if mapping && !got {
		t.Fatalf("no direct path to b through its mapping at %s", mapped)
	}
	if !mapping && got {
		t.Fatal("direct path without port mapping: the NAT is not symmetric enough for this test")
	}
}
