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

// TestE2EKilledMidWrite (issue 11): a member and its controller are killed
// with SIGKILL again and again while the controller rewrites the member's
// record through its API and the member saves what it is sent. Each
// restart finds the same identity, the network joined, the controller's
// network and member records intact (nothing set aside as damaged), and
// the member back on the network.
func TestE2EKilledMidWrite(t *testing.T) {
	lab := netlab.New(t)
	bin := buildZtgo(t)
	dir := t.TempDir()
	sites := routedSites(t, lab, dir, "root", "ctl", "m")
	var homes []string
	for _, s := range sites {
		homes = append(homes, s.home)
	}
	privatePlanet(t, lab, bin, dir, "5a7e57e30", "198.18.1.2/9993", sites["root"], homes...)
	start := func(s *site) *netlab.Proc {
		return lab.Start(s.ns, s.name, bin, "run", "--device", "none", s.home)
	}
	procs := map[string]*netlab.Proc{}
	for _, s := range sites {
		procs[s.name] = start(s)
	}
	cli := func(s *site, args ...string) string {
		out, _ := lab.Run(s.ns, append([]string{bin}, append(args, "-D", s.home)...)...)
		return out
	}
	online := func(s *site) bool { return strings.Contains(cli(s, "info"), "ONLINE") }
	for _, s := range sites {
		if !netlab.Eventually(30*time.Second, 200*time.Millisecond, func() bool { return online(s) }) {
			t.Fatalf("%s not online", s.name)
		}
	}
	ctl, m := sites["ctl"], sites["m"]
	var netw map[string]any
	if err := json.Unmarshal([]byte(cli(ctl, "controller", "network", "create", "--json",
		`{"name":"crash","v4AssignMode":{"zt":true},"ipAssignmentPools":[{"ipRangeStart":"10.147.18.10","ipRangeEnd":"10.147.18.250"}],"routes":[{"target":"10.147.18.0/24"}]}`)), &netw); err != nil {
		t.Fatal(err)
	}
	nwid := netw["id"].(string)
	cli(m, "join", nwid)
	idBytes, _ := os.ReadFile(filepath.Join(m.home, "identity.public"))
	addr := string(idBytes[:10])
	if !netlab.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
		return strings.Contains(cli(ctl, "controller", "member", "list", nwid), addr)
	}) {
		t.Fatal("member never reached the controller")
	}
	cli(ctl, "controller", "member", "authorize", nwid, addr)
	joined := func() bool {
		return strings.Contains(cli(m, "listnetworks"), nwid+" crash") && strings.Contains(cli(m, "listnetworks"), " OK ")
	}
	if !netlab.Eventually(30*time.Second, 200*time.Millisecond, joined) {
		t.Fatalf("member not on the network: %s", cli(m, "listnetworks"))
	}

	for round := range 4 {
		// Keep both writing: the controller its member record, the member
		// the configs it is pushed.
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				cli(ctl, "controller", "member", "authorize", nwid, addr) // rewrites the record, pushes a config
			}
		}()
		time.Sleep(time.Duration(300+round*170) * time.Millisecond)
		for _, name := range []string{"m", "ctl"} {
			procs[name].Cmd.Process.Kill() // SIGKILL, mid-write if it is writing
			procs[name].Stop()
		}
		close(stop)
		<-done
		procs["ctl"], procs["m"] = start(ctl), start(m)
		after, _ := os.ReadFile(filepath.Join(m.home, "identity.public"))
		if string(after) != string(idBytes) {
			t.Fatalf("round %d: the member's identity changed", round)
		}
		if !netlab.Eventually(30*time.Second, 200*time.Millisecond, joined) {
			t.Fatalf("round %d: member not back on the network: %s", round, cli(m, "listnetworks"))
		}
		// The restarted controller set aside nothing as unreadable.
		if damaged, _ := filepath.Glob(filepath.Join(ctl.home, "controller.d", "network", "*damaged*")); len(damaged) > 0 {
			t.Fatalf("round %d: damaged controller records: %v", round, damaged)
		}
		if damaged, _ := filepath.Glob(filepath.Join(ctl.home, "controller.d", "network", "*", "member", "*damaged*")); len(damaged) > 0 {
			t.Fatalf("round %d: damaged controller records: %v", round, damaged)
		}
		rec := cli(ctl, "api", fmt.Sprintf("/controller/network/%s/member/%s", nwid, addr))
		if !strings.Contains(strings.ReplaceAll(rec, " ", ""), `"authorized":true`) {
			t.Fatalf("round %d: member record after the crash:\n%s", round, rec)
		}
	}
}
