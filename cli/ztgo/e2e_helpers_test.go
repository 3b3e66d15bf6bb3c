package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/netlab"
)

// routedSites makes a core router and, for each name, a namespace linked
// to it at 198.18.<i+1>.2/24 with a route to 198.18.0.0/16 (no default).
func routedSites(t *testing.T, lab *netlab.Lab, dir string, names ...string) map[string]*site {
	t.Helper()
	core := lab.NS("core")
	lab.Must(core, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	sites := map[string]*site{}
	for i, name := range names {
		s := &site{name: name, ns: lab.NS(name), home: filepath.Join(dir, name)}
		os.MkdirAll(s.home, 0o700)
		lab.Pair(core, "l"+name, fmt.Sprintf("198.18.%d.1/24", i+1), s.ns, "eth0", fmt.Sprintf("198.18.%d.2/24", i+1))
		lab.Must(s.ns, "ip", "route", "add", "198.18.0.0/16", "via", fmt.Sprintf("198.18.%d.1", i+1))
		sites[name] = s
	}
	return sites
}

// privatePlanet gives root a new identity, signs a planet naming it at
// rootEndpoint, and puts the planet in every home: never the public one.
func privatePlanet(t *testing.T, lab *netlab.Lab, bin, dir, worldID, rootEndpoint string, root *site, homes ...string) {
	t.Helper()
	lab.Must("", bin, "identity", "generate", filepath.Join(root.home, "identity.secret"), filepath.Join(root.home, "identity.public"))
	pub, _ := os.ReadFile(filepath.Join(root.home, "identity.public"))
	spec := fmt.Sprintf(`{"worldType":"planet","id":%q,"roots":[{"identity":%q,"stableEndpoints":[%q]}]}`, worldID, strings.TrimSpace(string(pub)), rootEndpoint)
	os.WriteFile(filepath.Join(dir, "planet.json"), []byte(spec), 0o644)
	lab.Must("", bin, "world", "create", filepath.Join(dir, "planet.json"), "--key", filepath.Join(dir, "planet.key"), "-o", filepath.Join(dir, "planet"))
	planet, _ := os.ReadFile(filepath.Join(dir, "planet"))
	for _, h := range homes {
		os.WriteFile(filepath.Join(h, "planet"), planet, 0o644)
	}
}

// startSites runs `ztgo run` (with extra arguments before the home) for
// every site, waits until each says ONLINE, and returns the processes and
// a runner of the CLI against a site's node.
func startSites(t *testing.T, lab *netlab.Lab, bin string, sites map[string]*site, extra ...string) (map[string]*netlab.Proc, func(s *site, args ...string) string) {
	t.Helper()
	procs := map[string]*netlab.Proc{}
	for _, s := range sites {
		procs[s.name] = lab.Start(s.ns, s.name, append(append([]string{bin, "run"}, extra...), s.home)...)
	}
	cli := func(s *site, args ...string) string {
		out, _ := lab.Run(s.ns, append([]string{bin}, append(args, "-D", s.home)...)...)
		return out
	}
	for _, s := range sites {
		if !netlab.Eventually(30*time.Second, 200*time.Millisecond, func() bool { return strings.Contains(cli(s, "info"), "ONLINE") }) {
			t.Fatalf("%s not online: %s", s.name, cli(s, "info"))
		}
	}
	return procs, cli
}

// addrOf is the ZeroTier address of a site's node.
func addrOf(s *site) string {
	b, _ := os.ReadFile(filepath.Join(s.home, "identity.public"))
	return string(b[:min(len(b), 10)])
}

// createNetwork makes a network on ctl's controller from a JSON spec and
// returns its ID.
func createNetwork(t *testing.T, cli func(*site, ...string) string, ctl *site, spec string) string {
	t.Helper()
	out := cli(ctl, "controller", "network", "create", "--json", spec)
	var netw map[string]any
	if err := json.Unmarshal([]byte(out), &netw); err != nil {
		t.Fatalf("network create: %v %q", err, out)
	}
	id, _ := netw["id"].(string)
	return id
}

// joinAuthorized has members join nwid, waits until ctl's controller lists
// them all, and authorizes them there.
func joinAuthorized(t *testing.T, cli func(*site, ...string) string, ctl *site, nwid string, members ...*site) {
	t.Helper()
	for _, m := range members {
		if out := cli(m, "join", nwid); !strings.Contains(out, "200 join OK") {
			t.Fatalf("join %s: %q", m.name, out)
		}
	}
	if !netlab.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
		list := cli(ctl, "controller", "member", "list", nwid)
		for _, m := range members {
			if !strings.Contains(list, addrOf(m)) {
				return false
			}
		}
		return true
	}) {
		t.Fatalf("members never reached the controller: %s", cli(ctl, "controller", "member", "list", nwid))
	}
	for _, m := range members {
		cli(ctl, "controller", "member", "authorize", nwid, addrOf(m))
	}
}
