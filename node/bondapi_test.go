package node

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/bond"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// TestBondingLocalConf: the bonding keys are read at start, each problem
// logged on a line of its own, and bonding turns the /bond endpoints on
// (answering 400 for what they cannot find, as 1.14.1 does).
func TestBondingLocalConf(t *testing.T) {
	home := privateHome(t, rootSecret(t))
	conf := `{"settings":{"defaultBondingPolicy":"active-backup","policies":{"x":{"basePolicy":"nope"},"y":{"basePolicy":"balance-rr","failoverInterval":100}},"peerSpecificBonds":{"zz":"y"}}}`
	if err := os.WriteFile(filepath.Join(home, "local.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// The settings are read before the node runs: its log is read alone.
	var logs bytes.Buffer
	lc, err := Home(home).LoadLocalConf(slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	n, stop := start(t, home)
	defer stop()
	if !n.VL1.Bonding() || !lc.Bonding.InUse() || n.Conf.Bonding.DefaultPolicy != "active-backup" || n.Conf.Bonding.Policies["y"] == nil {
		t.Fatalf("bonding not configured: %+v", n.Conf.Bonding)
	}
	var bondLines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "local.conf: settings.") {
			bondLines = append(bondLines, l)
		}
		if strings.Contains(l, "not supported") && strings.Contains(l, "Bond") {
			t.Errorf("bonding key logged as unsupported: %s", l)
		}
	}
	if len(bondLines) != 3 { // x's basePolicy, y's failoverInterval, the peer "zz"
		t.Errorf("want 3 bonding problems, one line each; got:\n%s", strings.Join(bondLines, "\n"))
	}
	expectReplies(t, n, []apiReply{
		{"GET", "/bond/show/0123456789", 400, "{}"},
		{"POST", "/bond/rotate/0123456789", 400, "{}"},
		{"POST", "/bond/setmtu/1400/eth0/10.0.0.1", 400, "Unable to find specified link"},
		{"PUT", "/bond/setmtu/67/eth0/10.0.0.1", 400, "Specified MTU is not reasonable"},
		{"POST", "/bond/setmtu/65536/eth0/10.0.0.1", 400, "Specified MTU is not reasonable"},
		{"GET", "/bond/show/xyz", 404, ""},
	})
}

// TestPeerJSONBonded: a bonded peer's object carries 1.14.1's bond fields,
// its paths theirs; an unbonded one has none of them.
func TestPeerJSONBonded(t *testing.T) {
	id, _ := identity.Parse(testIdentity)
	now := time.Now()
	ep := transport.Endpoint{Addr: netip.MustParseAddrPort("198.18.0.2:9993"), Socket: 1}
	ps := bond.PathStatus{Key: bond.PathKey{Link: "eth1", Socket: 1, Remote: ep.Addr}, Ifname: "eth1", LatencyMean: 10.5,
		LatencyVariance: 1.25, AssignedFlowCount: 3, Bonded: true, Eligible: true, GivenLinkSpeed: 1000, RelativeQuality: 0.5}
	st := bond.Status{IsBonded: true, PolicyCode: 3, PolicyStr: "balance-rr", NumAliveLinks: 1, NumTotalLinks: 2,
		FailoverInterval: 5000, DownDelay: 10, UpDelay: 20, PacketsPerLink: 64, Paths: []bond.PathStatus{ps}}
	p := vl1.PeerInfo{Address: id.Address(), Identity: id, Role: vl1.RoleLeaf, Proto: 12, Version: vl1.Version{Major: 1, Minor: 14, Revision: 1},
		Latency: 10, IsBonded: true, Bond: &st, Paths: []vl1.PathInfo{
			{Endpoint: ep, LastSend: now.Add(-time.Second), LastReceive: now.Add(-2 * time.Second), Bond: &ps},
			{Endpoint: transport.Endpoint{Addr: netip.MustParseAddrPort("198.18.0.3:9993")}, LastSend: now, LastReceive: now},
		}}
	b, _ := json.Marshal(peerJSON(p, func(s int) int { return []int{9993, 20000}[s] }, false))
	var got map[string]any
	json.Unmarshal(b, &got)
	for k, v := range map[string]any{"isBonded": true, "bondingPolicyCode": 3.0, "bondingPolicyStr": "balance-rr",
		"numAliveLinks": 1.0, "numTotalLinks": 2.0, "failoverInterval": 5000.0, "downDelay": 10.0, "upDelay": 20.0, "packetsPerLink": 64.0} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	paths := got["paths"].([]any)
	p0, p1 := paths[0].(map[string]any), paths[1].(map[string]any)
	for k, v := range map[string]any{"ifname": "eth1", "latencyMean": 10.5, "latencyVariance": 1.25, "packetLossRatio": 0.0,
		"packetErrorRatio": 0.0, "assignedFlowCount": 3.0, "bonded": true, "eligible": true, "givenLinkSpeed": 1000.0,
		"relativeQuality": 0.5, "localPort": 20000.0} {
		if p0[k] != v {
			t.Errorf("path %s = %v, want %v", k, p0[k], v)
		}
	}
	if age := p0["lastInAge"].(float64); age < 2000 || age > 3000 {
		t.Errorf("lastInAge %v, want about 2000", age)
	}
	if p1["bonded"] != false || p1["ifname"] != "" { // a path the bond does not hold
		t.Errorf("unbonded path of a bonded peer: %v", p1)
	}
	p.Bond, p.IsBonded = nil, false
	b, _ = json.Marshal(peerJSON(p, func(int) int { return 0 }, false))
	if s := string(b); strings.Contains(s, "bondingPolicy") || strings.Contains(s, "ifname") || !strings.Contains(s, `"isBonded":false`) {
		t.Errorf("unbonded peer: %s", s)
	}
}
