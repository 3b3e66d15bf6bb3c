package node

import (
	"encoding/json"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ztgo/ztgo/internal/testplanet"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// scrape fetches /metrics and parses it with Prometheus' own text parser,
// which fails on anything the exposition format does not allow.
func scrape(t *testing.T, n *Node) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	code, _, body := get(t, n, "/metrics", map[string]string{"X-ZT1-Auth": n.Token})
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not valid exposition text: %v\n%s", err, body)
	}
	return fams, body
}

// value is the sample of family name whose labels are exactly labels
// (name=value pairs), and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		if len(m.Label) != len(labels)/2 {
			continue
		}
		match := true
		for i := 0; i < len(labels); i += 2 {
			if !slices.ContainsFunc(m.Label, func(l *dto.LabelPair) bool {
				return l.GetName() == labels[i] && l.GetValue() == labels[i+1]
			}) {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

// TestMetricsAsZeroTierOne: /metrics carries 1.14.1's series with its
// HELP and TYPE lines and label sets beside ztgo's own, parses as
// exposition text, and its values follow traffic between two nodes: a
// leaf that greets its root and joins a network the root controls.
func TestMetricsAsZeroTierOne(t *testing.T) {
	rootID, err := identity.Parse(rootSecret(t))
	if err != nil {
		t.Fatal(err)
	}
	loop := func(home string) (*Node, func()) {
		return startWith(t, Options{Home: home, Logger: slog.New(slog.DiscardHandler), AllowLoopback: true})
	}
	a, stopA := loop(privateHome(t, rootSecret(t)))
	defer stopA()

	before, body := scrape(t, a)
	for _, want := range []string{
		"# HELP zt_packet ZeroTier packet type counts\n# TYPE zt_packet counter\n",
		"# HELP zt_packet_error ZeroTier packet errors\n# TYPE zt_packet_error counter\n",
		"# HELP zt_data number of bytes ZeroTier has transmitted or received\n# TYPE zt_data counter\n",
		`zt_data{direction="rx",protocol="tcp"} `,
		"# HELP zt_num_networks number of networks this instance is joined to\n# TYPE zt_num_networks gauge\n",
		"# HELP controller_network_count number of networks the controller is serving\n# TYPE controller_network_count gauge\n",
		"# HELP controller_member_count number of network members the controller is serving\n# TYPE controller_member_count gauge\n",
		"# HELP controller_member_auth_count number of network member auths\n# TYPE controller_member_auth_count counter\n",
		"# HELP controller_member_deauth_count number of network member deauths\n# TYPE controller_member_deauth_count counter\n",
		"# HELP controller_member_change_count number of times a network member configuration is changed\n# TYPE controller_member_change_count counter\n",
		"# HELP controller_network_change_count number of times a network configuration is changed\n# TYPE controller_network_change_count counter\n",
		"# HELP controller_network_config_request count of config requests handled\n# TYPE controller_network_config_request counter\n",
		`zt_packet{direction="rx",packet_type="hello"} `,
		`ztgo_dropped_total{reason="junk"} `,
		"ztgo_udp_gso_messages_total ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	helloRx, _ := value(before, "zt_packet", "packet_type", "hello", "direction", "rx")
	for _, pt := range []string{"nop", "error", "ack", "qos", "hello", "ok", "whois", "rendezvous", "frame", "ext_frame", "echo",
		"multicast_like", "network_credentials", "network_config_request", "network_config", "multicast_gather",
		"multicast_frame", "push_direct_paths", "user_message", "remote_trace", "path_negotiation_request"} {
		for _, dir := range []string{"rx", "tx"} {
			if _, ok := value(before, "zt_packet", "packet_type", pt, "direction", dir); !ok {
				t.Errorf("no zt_packet{packet_type=%q,direction=%q}", pt, dir)
			}
		}
	}
	for _, et := range []string{"obj_not_found", "unsupported_operation", "identity_collision", "need_membership_certificate",
		"network_access_denied", "unwanted_multicast", "authentication_required"} {
		for _, dir := range []string{"rx", "tx"} {
			if _, ok := value(before, "zt_packet_error", "error_type", et, "direction", dir); !ok {
				t.Errorf("no zt_packet_error{error_type=%q,direction=%q}", et, dir)
			}
		}
	}

	// The leaf: its own identity, and a planet whose root is a.
	secret, err := os.ReadFile("../testdata/captures/basic/controller.identity.secret")
	if err != nil {
		t.Fatal(err)
	}
	bID, err := identity.Parse(strings.TrimSpace(string(secret)))
	if err != nil {
		t.Fatal(err)
	}
	bHome := t.TempDir()
	os.WriteFile(filepath.Join(bHome, "identity.secret"), secret, 0o600)
	os.WriteFile(filepath.Join(bHome, "planet"), testplanet.Single(rootID, 77, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), a.Port())), 0o644)
	b, stopB := loop(bHome)
	defer stopB()

	code, out := post(t, a, "POST", "/controller/network/"+rootID.Address().String()+"______", `{"name":"m","private":false}`)
	if code != 200 {
		t.Fatalf("create: %d %s", code, out)
	}
	var netw map[string]any
	json.Unmarshal([]byte(out), &netw)
	nwid := netw["id"].(string)
	if code, out := post(t, b, "POST", "/network/"+nwid, "{}"); code != 200 {
		t.Fatalf("join: %d %s", code, out)
	}
	// A network a does not have: its controller answers ERROR(OBJ_NOT_FOUND).
	missing := rootID.Address().String() + "00dead"
	if code, out := post(t, b, "POST", "/network/"+missing, "{}"); code != 200 {
		t.Fatalf("join: %d %s", code, out)
	}

	leaf := bID.Address().String()
	deadline := time.Now().Add(20 * time.Second)
	for {
		fa, _ := scrape(t, a)
		fb, _ := scrape(t, b)
		rx, _ := value(fa, "zt_packet", "packet_type", "hello", "direction", "rx")
		tx, _ := value(fb, "zt_packet", "packet_type", "hello", "direction", "tx")
		alive, _ := value(fa, "zt_peer_path_count", "node_id", leaf, "status", "alive")
		_, dead := value(fa, "zt_peer_path_count", "node_id", leaf, "status", "dead")
		reqs, _ := value(fa, "controller_network_config_request")
		members, _ := value(fa, "controller_member_count")
		nets, _ := value(fa, "controller_network_count")
		joined, _ := value(fb, "zt_num_networks")
		_, groups := value(fb, "zt_network_multicast_groups_subscribed", "network_id", nwid)
		_, netPackets := value(fb, "zt_network_packets", "direction", "tx", "network_id", nwid, "accepted", "no")
		reqRx, _ := value(fa, "zt_packet", "packet_type", "network_config_request", "direction", "rx")
		reqTx, _ := value(fb, "zt_packet", "packet_type", "network_config_request", "direction", "tx")
		// The config goes back as OK(NETWORK_CONFIG_REQUEST).
		confTx, _ := value(fa, "zt_packet", "packet_type", "ok", "direction", "tx")
		confRx, _ := value(fb, "zt_packet", "packet_type", "ok", "direction", "rx")
		errTx, _ := value(fa, "zt_packet_error", "error_type", "obj_not_found", "direction", "tx")
		errRx, _ := value(fb, "zt_packet_error", "error_type", "obj_not_found", "direction", "rx")
		auths, _ := value(fa, "controller_member_auth_count") // a public network authorizes
		udpRx, _ := value(fa, "zt_data", "protocol", "udp", "direction", "rx")
		udpTx, _ := value(fb, "zt_data", "protocol", "udp", "direction", "tx")
		if rx > helloRx && tx > 0 && alive >= 1 && dead && reqs > 0 && members == 1 && nets == 1 && joined == 2 && groups && netPackets &&
			reqRx > 0 && reqTx > 0 && confTx > 0 && confRx > 0 && errTx > 0 && errRx > 0 &&
			udpRx > 0 && udpTx > 0 && auths == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics did not follow the traffic: hello rx %v (was %v), leaf hello tx %v, alive paths %v, dead series %v, config requests %v, members %v, networks %v, joined %v, groups series %v, network packets series %v, config requests rx %v tx %v, OKs tx %v rx %v, obj_not_found tx %v rx %v, UDP bytes rx %v tx %v, member auths %v",
				rx, helloRx, tx, alive, dead, reqs, members, nets, joined, groups, netPackets, reqRx, reqTx, confTx, confRx, errTx, errRx, udpRx, udpTx, auths)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, body := scrape(t, b); !strings.Contains(body, "# HELP zt_network_packets number of incoming/outgoing packets per network\n# TYPE zt_network_packets counter\n") ||
		!strings.Contains(body, "# HELP zt_network_multicast_groups_subscribed number of multicast groups networks are subscribed to\n# TYPE zt_network_multicast_groups_subscribed gauge\n") {
		t.Errorf("network series lack HELP/TYPE:\n%s", body)
	}

	// zt_peer_latency: a histogram of latency samples, 1.14.1's buckets.
	deadline = time.Now().Add(10 * time.Second)
	for {
		a.latency.sample(a.VL1.Peers())
		fa, body := scrape(t, a)
		if h := histogram(fa, "zt_peer_latency", "node_id", leaf); h != nil && h.GetSampleCount() > 0 {
			if !strings.Contains(body, "# HELP zt_peer_latency peer latency (ms)\n# TYPE zt_peer_latency histogram\n") {
				t.Errorf("zt_peer_latency HELP/TYPE:\n%s", body)
			}
			var bounds []float64
			for _, b := range h.Bucket {
				bounds = append(bounds, b.GetUpperBound())
			}
			if want := []float64{1, 3, 6, 10, 30, 60, 100, 300, 600, 1000, math.Inf(1)}; !slices.Equal(bounds, want) {
				t.Errorf("zt_peer_latency buckets %v, want %v", bounds, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no zt_peer_latency sample for %s:\n%s", leaf, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// histogram is the histogram of family name with exactly the one label.
func histogram(fams map[string]*dto.MetricFamily, name, label, v string) *dto.Histogram {
	f := fams[name]
	if f == nil || f.GetType() != dto.MetricType_HISTOGRAM {
		return nil
	}
	for _, m := range f.Metric {
		if len(m.Label) == 1 && m.Label[0].GetName() == label && m.Label[0].GetValue() == v {
			return m.Histogram
		}
	}
	return nil
}

// TestMetricsBond: a bonded peer has its bond's series — per path, bonded,
// eligible and latency; per peer, active-backup's fail-overs — labelled
// with the peer, the link and the path; an unbonded peer has none.
func TestMetricsBond(t *testing.T) {
	a, b, links := bondedRootAndLeaf(t, `{"settings":{"defaultBondingPolicy":"active-backup","bindInterfaces":false}}`)
	ifname := links[0]
	leaf := b.VL1.Address().String()
	pi, _ := a.VL1.Peer(b.VL1.Address())
	var path string
	for _, ps := range pi.Bond.Paths {
		if ps.Ifname == ifname {
			path = ps.Key.Remote.String()
		}
	}
	fams, body := scrape(t, a)
	for _, want := range []string{
		"# HELP ztgo_bond_path_bonded 1 if the peer's bond sends on the path (its bonded set)\n# TYPE ztgo_bond_path_bonded gauge\n",
		"# HELP ztgo_bond_path_eligible 1 if the path is eligible for the peer's bond\n# TYPE ztgo_bond_path_eligible gauge\n",
		"# HELP ztgo_bond_path_latency_ms mean latency the peer's bond measured on the path (ms)\n# TYPE ztgo_bond_path_latency_ms gauge\n",
		"# HELP ztgo_bond_failovers_total times active-backup made another path the active one\n# TYPE ztgo_bond_failovers_total counter\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	for _, name := range []string{"ztgo_bond_path_bonded", "ztgo_bond_path_eligible", "ztgo_bond_path_latency_ms"} {
		if _, ok := value(fams, name, "node_id", leaf, "link", ifname, "path", path); !ok {
			t.Errorf("no %s{node_id=%q,link=%q,path=%q}:\n%s", name, leaf, ifname, path, body)
		}
	}
	// A path in its trial period is eligible.
	if v, _ := value(fams, "ztgo_bond_path_eligible", "node_id", leaf, "link", ifname, "path", path); v != 1 {
		t.Errorf("ztgo_bond_path_eligible %v, want 1", v)
	}
	if v, ok := value(fams, "ztgo_bond_failovers_total", "node_id", leaf); !ok || v != 0 {
		t.Errorf("ztgo_bond_failovers_total %v (%v), want 0", v, ok)
	}
	// b bonds nothing (bonding is off there).
	if _, body := scrape(t, b); strings.Contains(body, "ztgo_bond_path_bonded{") || strings.Contains(body, "ztgo_bond_failovers_total{") {
		t.Errorf("an unbonded node serves bond series:\n%s", body)
	}
}
