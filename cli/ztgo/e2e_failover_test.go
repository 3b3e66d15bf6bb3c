package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/netlab"
	"github.com/ztgo/ztgo/internal/pgtest"
)

// TestE2EControllerFailover: two controller replicas, each a `ztgo run` in
// a namespace of its own, share one identity and one PostgreSQL database
// (reached through its Unix socket, which namespaces do not separate);
// three members join through a root. A network made on one replica is
// served by both, members authorized on the other get their configs. The
// replica the members talk to is killed with SIGKILL; then a
// deauthorization made on the survivor reaches its member, and a member
// that leaves and rejoins gets its config from the survivor. The times are
// logged: they are the fail-over bounds in spec/controller-scale.md.
func TestE2EControllerFailover(t *testing.T) {
	lab := netlab.New(t, "ping")
	db := pgtest.Start(t).NewDatabase(t)
	bin := buildZtgo(t)
	dir := t.TempDir()
	sites := routedSites(t, lab, dir, "root", "ctl1", "ctl2", "a", "b", "c")
	var homes []string
	for _, s := range sites {
		homes = append(homes, s.home)
	}
	privatePlanet(t, lab, bin, dir, "5a7e57e2f", "198.18.1.2/9993", sites["root"], homes...)

	// One controller identity, two homes.
	ctl1, ctl2 := sites["ctl1"], sites["ctl2"]
	lab.Must("", bin, "identity", "generate", filepath.Join(ctl1.home, "identity.secret"), filepath.Join(ctl1.home, "identity.public"))
	conf, _ := json.Marshal(map[string]any{"settings": map[string]any{"controllerDbPath": "postgres:" + db}})
	for _, s := range []*site{ctl1, ctl2} {
		for _, f := range []string{"identity.secret", "identity.public"} {
			b, err := os.ReadFile(filepath.Join(ctl1.home, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(s.home, f), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(s.home, "local.conf"), conf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	procs, cli := startSites(t, lab, bin, sites)
	controller := addrOf(ctl1)

	// The network is made on ctl1 and appears on ctl2 through the database.
	nwid := createNetwork(t, cli, ctl1, `{"name":"failover","v4AssignMode":{"zt":true},"ipAssignmentPools":[{"ipRangeStart":"10.147.19.10","ipRangeEnd":"10.147.19.250"}],"routes":[{"target":"10.147.19.0/24"}]}`)
	if !netlab.Eventually(5*time.Second, 100*time.Millisecond, func() bool {
		return strings.Contains(cli(ctl2, "controller", "network", "show", nwid), `"failover"`)
	}) {
		t.Fatal("the network made on ctl1 never reached ctl2")
	}
	members := []*site{sites["a"], sites["b"], sites["c"]}
	joinAuthorized(t, cli, ctl2, nwid, members...)
	ips := map[string]string{}
	ipOf := func(m *site) string {
		for _, line := range strings.Split(cli(m, "listnetworks"), "\n") {
			f := strings.Fields(line)
			if len(f) == 9 && f[2] == nwid && f[5] == "OK" && strings.HasPrefix(f[8], "10.147.19.") {
				return strings.Split(f[8], "/")[0]
			}
		}
		return ""
	}
	for _, m := range members {
		if !netlab.Eventually(30*time.Second, 200*time.Millisecond, func() bool { ips[m.name] = ipOf(m); return ips[m.name] != "" }) {
			t.Fatalf("%s got no config: %s", m.name, cli(m, "listnetworks"))
		}
	}
	ping := func(from *site, to string) bool {
		_, err := lab.Run(from.ns, "ping", "-c", "1", "-W", "1", to)
		return err == nil
	}
	if !netlab.Eventually(10*time.Second, 100*time.Millisecond, func() bool { return ping(sites["a"], ips["b"]) }) {
		t.Fatal("a cannot ping b")
	}

	// The replica member a reaches the controller through is the active
	// one; kill it without warning.
	active, survivor := ctl1, ctl2
	for _, line := range strings.Split(cli(sites["a"], "peers"), "\n") {
		if f := strings.Fields(line); len(f) == 8 && f[0] == controller && strings.HasPrefix(f[7], "198.18.3.") {
			active, survivor = ctl2, ctl1
		}
	}
	t.Logf("members talk to %s; killing it (a's paths to the controller: %s)", active.name, pathsOf(cli(sites["a"], "api", "/peer/"+controller)))
	if err := procs[active.name].Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()

	// A deauthorization made on the survivor reaches member c.
	cli(survivor, "controller", "member", "deauthorize", nwid, addrOf(sites["c"]))
	if !netlab.Eventually(60*time.Second, 50*time.Millisecond, func() bool { return ipOf(sites["c"]) == "" }) {
		t.Fatalf("c kept its network after a deauthorization on the survivor: %s", cli(sites["c"], "listnetworks"))
	}
	deauth := time.Since(killed)

	// Member a leaves and rejoins: its config now comes from the survivor.
	cli(sites["a"], "leave", nwid)
	rejoined := time.Now()
	if out := cli(sites["a"], "join", nwid); !strings.Contains(out, "200 join OK") {
		t.Fatalf("rejoin: %q", out)
	}
	if !netlab.Eventually(60*time.Second, 200*time.Millisecond, func() bool { return ipOf(sites["a"]) == ips["a"] }) {
		t.Fatalf("a got no config from the survivor: %s", cli(sites["a"], "listnetworks"))
	}
	config := time.Since(rejoined)
	if !netlab.Eventually(10*time.Second, 100*time.Millisecond, func() bool { return ping(sites["a"], ips["b"]) }) {
		t.Fatal("a cannot ping b after the fail-over")
	}
	if ping(sites["a"], ips["c"]) {
		t.Fatal("the deauthorized member still answers")
	}
	// Nothing was lost: the survivor lists every member, c deauthorized.
	var c map[string]any
	if err := json.Unmarshal([]byte(cli(survivor, "api", "/controller/network/"+nwid+"/member/"+addrOf(sites["c"]))), &c); err != nil || c["authorized"] != false {
		t.Fatalf("member c on the survivor: %v %v", c, err)
	}
	t.Logf("after SIGKILL of %s: deauthorization effective on its member in %v; a member rejoining at once configured in %v",
		active.name, deauth.Round(time.Millisecond), config.Round(time.Millisecond))
}

// pathsOf lists the paths in a /peer/<address> answer, the preferred one
// marked with a star.
func pathsOf(peerJSON string) string {
	var p struct {
		Paths []struct {
			Address   string `json:"address"`
			Preferred bool   `json:"preferred"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(peerJSON), &p); err != nil {
		return err.Error()
	}
	var out []string
	for _, pa := range p.Paths {
		if pa.Preferred {
			pa.Address += "*"
		}
		out = append(out, pa.Address)
	}
	return strings.Join(out, " ")
}
