package cli

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/testplanet"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// TestNetworkCommands drives a node that is its own root and controller
// through the zerotier-cli style commands.
func TestNetworkCommands(t *testing.T) {
	home := t.TempDir()
	secret, _ := os.ReadFile("../testdata/captures/basic/root.identity.secret")
	os.WriteFile(filepath.Join(home, "identity.secret"), secret, 0o600)
	id, _ := identity.Parse(string(secret))
	port := freeUDPPort(t)
	planet := testplanet.Single(id, 43, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
	startNode(t, home, port, planet)
	r := run(t, "controller", "network", "create", "-D", home, "--json", `{"name":"cmds","v4AssignMode":{"zt":true},"ipAssignmentPools":[{"ipRangeStart":"10.5.0.1","ipRangeEnd":"10.5.0.9"}],"routes":[{"target":"10.5.0.0/24"}]}`)
	var netw map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &netw); err != nil || r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	nwid := netw["id"].(string)
	if r := run(t, "join", "-D", home, nwid); r.stdout != "200 join OK\n" {
		t.Fatalf("join: %+v", r)
	}
	if r := run(t, "join", "-D", home, "123"); r.code != 2 || r.stdout != "invalid network id\n" {
		t.Fatalf("bad join: %+v", r)
	}
	run(t, "controller", "member", "authorize", "-D", home, nwid, id.Address().String())
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(run(t, "listnetworks", "-D", home).stdout, " OK ") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(run(t, "listnetworks", "-D", home).stdout), "\n")
	if len(lines) != 2 || lines[0] != "200 listnetworks <nwid> <name> <mac> <status> <type> <dev> <ZT assigned ips>" {
		t.Fatalf("listnetworks: %q", lines)
	}
	f := strings.Fields(lines[1])
	if f[2] != nwid || f[3] != "cmds" || f[5] != "OK" || f[6] != "PRIVATE" || !strings.HasPrefix(f[len(f)-1], "10.5.0.") {
		t.Fatalf("listnetworks line %q", lines[1])
	}
	// -j listnetworks carries the multicast subscriptions: the ARP group
	// of the assigned address
	var js []map[string]any
	json.Unmarshal([]byte(run(t, "listnetworks", "-j", "-D", home).stdout), &js)
	if len(js) != 1 || fmt.Sprint(js[0]["multicastSubscriptions"]) == "[]" || !strings.Contains(fmt.Sprint(js[0]["multicastSubscriptions"]), "mac:ff:ff:ff:ff:ff:ff") {
		t.Fatalf("listnetworks -j: %v", js)
	}
	if r := run(t, "get", "-D", home, nwid, "name"); r.stdout != "cmds\n" {
		t.Fatalf("get name: %+v", r)
	}
	if r := run(t, "get", "-D", home, nwid, "ip4"); !strings.HasPrefix(r.stdout, "10.5.0.") {
		t.Fatalf("get ip4: %+v", r)
	}
	if r := run(t, "get", "-D", home, nwid, "nonsense"); r.stdout != "error, unknown property name\n" {
		t.Fatalf("get unknown: %+v", r)
	}
	if r := run(t, "set", "-D", home, nwid, "allowManaged=0"); r.code != 0 || !strings.Contains(r.stdout, `"allowManaged":false`) {
		t.Fatalf("set: %+v", r)
	}
	if r := run(t, "get", "-D", home, nwid, "allowManaged"); r.stdout != "0\n" {
		t.Fatalf("get allowManaged: %+v", r)
	}
	if b, _ := os.ReadFile(filepath.Join(home, "networks.d", nwid+".local.conf")); string(b) != "allowManaged=0\nallowGlobal=0\nallowDefault=0\nallowDNS=0\n" {
		t.Fatalf("local.conf %q", b)
	}
	if r := run(t, "set", "-D", home, nwid, "allowManaged"); r.code != 2 {
		t.Fatalf("set without =: %+v", r)
	}
	if r := run(t, "orbit", "-D", home, "deadbeef00", "deadbeef00"); r.stdout != "200 orbit OK\n" {
		t.Fatalf("orbit: %+v", r)
	}
	if r := run(t, "listmoons", "-D", home); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("listmoons: %+v", r)
	}
	if r := run(t, "deorbit", "-D", home, "deadbeef00"); r.stdout != "200 deorbit OK\n" {
		t.Fatalf("deorbit: %+v", r)
	}
	if r := run(t, "leave", "-D", home, nwid); r.stdout != "200 leave OK\n" {
		t.Fatalf("leave: %+v", r)
	}
	if r := run(t, "listnetworks", "-D", home); strings.Contains(r.stdout, nwid) {
		t.Fatalf("still listed after leave: %q", r.stdout)
	}
}
