package node

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ztgo/ztgo/drivers/memdev"
	"github.com/ztgo/ztgo/internal/testplanet"
	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// testIdentity is a fixed identity so tests skip the proof of work.
const testIdentity = "cbf31c2eda:0:fda53a8e2afb27fe989a867a81a6973341ccda29d581d9c8c4afcf16d7aeff4c534e0ea3011e3ba8905b04fd848d7ac092b99d0df4c912976fb6a08291bb256f"

// privateHome makes a home directory with its own planet (never the
// public one) whose root is the node itself.
func privateHome(t *testing.T, secret string) string {
	t.Helper()
	dir := t.TempDir()
	id, err := identity.Parse(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "identity.secret"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	planet := testplanet.Single(id, 77, netip.MustParseAddrPort("127.0.0.1:1"))
	if err := os.WriteFile(filepath.Join(dir, "planet"), planet, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func rootSecret(t *testing.T) string {
	b, err := os.ReadFile("../testdata/captures/basic/root.identity.secret")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func start(t *testing.T, home string) (*Node, func()) {
	t.Helper()
	return startWith(t, Options{Home: home, Port: 0, Logger: slog.New(slog.DiscardHandler)})
}

func startWith(t *testing.T, opts Options) (*Node, func()) {
	t.Helper()
	n, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- n.Run(ctx) }()
	return n, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
}

func get(t *testing.T, n *Node, path string, hdr map[string]string) (int, map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+itoa(n.Port())+path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, m, string(b)
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

func TestHomeFilesAndAPI(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	home := privateHome(t, rootSecret(t))
	n, stop := start(t, home)
	defer stop()
	for name, mode := range map[string]os.FileMode{"identity.secret": 0o600, "authtoken.secret": 0o600, "identity.public": 0o644} {
		st, err := os.Stat(filepath.Join(home, name))
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v mode %v, want %v", name, err, st.Mode().Perm(), mode)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(home, "zerotier-one.port")); string(b) != itoa(n.Port()) {
		t.Errorf("zerotier-one.port = %q", b)
	}
	for _, hdr := range []map[string]string{nil, {"X-ZT1-Auth": "wrong"}} {
		if code, _, body := get(t, n, "/status", hdr); code != 401 || body != "{}" {
			t.Errorf("auth %v: %d %q", hdr, code, body)
		}
	}
	ok := []struct {
		path string
		hdr  map[string]string
	}{
		{"/status", map[string]string{"X-ZT1-Auth": n.Token}},
		{"/status?auth=" + n.Token, nil},
		{"/status", map[string]string{"Authorization": "Bearer " + n.Token}},
	}
	for _, c := range ok {
		code, m, body := get(t, n, c.path, c.hdr)
		if code != 200 {
			t.Fatalf("%s: %d %s", c.path, code, body)
		}
		if m["address"] != "cbf31c2eda" || m["online"] != true || m["version"] != "1.14.1" || m["planetWorldId"] != float64(77) {
			t.Fatalf("status %s", body)
		}
		settings := m["config"].(map[string]any)["settings"].(map[string]any)
		if settings["primaryPort"] != float64(n.Port()) || settings["allowTcpFallbackRelay"] != true {
			t.Fatalf("settings %v", settings)
		}
	}
	code, _, body := get(t, n, "/peer", map[string]string{"X-ZT1-Auth": n.Token})
	if code != 200 || body != "[]" {
		t.Fatalf("/peer: %d %s", code, body)
	}
	if code, _, body := get(t, n, "/peer/0123456789", map[string]string{"X-ZT1-Auth": n.Token}); code != 200 || body != "{}" {
		t.Fatalf("/peer/unknown: %d %s", code, body)
	}
	if code, _, _ := get(t, n, "/nope", map[string]string{"X-ZT1-Auth": n.Token}); code != 404 {
		t.Fatalf("unknown path: %d", code)
	}
}

func TestLocalConf(t *testing.T) {
	home := privateHome(t, rootSecret(t))
	write := func(s string) { os.WriteFile(filepath.Join(home, "local.conf"), []byte(s), 0o644) }
	write(`{"settings":{"primaryPort":0,"allowSecondaryPort":false,"portMappingEnabled":false,"somethingElse":1}}`)
	n, stop := start(t, home)
	if len(n.Ports()) != 1 || n.Port() == 9993 {
		t.Fatalf("ports %v", n.Ports())
	}
	stop()
	for _, bad := range []string{`{`, `[1]`, `{"settings":{"primaryPort":70000}}`, `{"settings":{"primaryPort":"x"}}`} {
		write(bad)
		if _, err := Open(Options{Home: home, Port: 0, Logger: slog.New(slog.DiscardHandler)}); err == nil || !strings.Contains(err.Error(), "local.conf") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestPeerCacheRoundTrip(t *testing.T) {
	id, _ := identity.Parse(testIdentity)
	p := CachedPeer{Identity: id, Proto: 12, Version: [3]uint16{1, 14, 1}, Addrs: []netip.AddrPort{
		netip.MustParseAddrPort("198.18.0.1:9993"), netip.MustParseAddrPort("[2001:db8::1]:443")}}
	b := AppendPeerCache(nil, p)
	got, err := ParsePeerCache(b)
	if err != nil || !got.Identity.Equal(id) || got.Proto != 12 || got.Version != p.Version || len(got.Addrs) != 2 || got.Addrs[1] != p.Addrs[1] {
		t.Fatalf("%+v %v", got, err)
	}
	for i := range b {
		if _, err := ParsePeerCache(b[:i]); err == nil {
			t.Fatalf("truncated at %d parsed", i)
		}
	}
}

func TestIdentityMadeOnFirstStartAndKept(t *testing.T) {
	if testing.Short() {
		t.Skip("generates an identity")
	}
	dir := t.TempDir()
	h := Home(dir)
	a, created, err := h.Identity()
	if err != nil || !created {
		t.Fatal(created, err)
	}
	b, created, err := h.Identity()
	if err != nil || created || !a.Equal(b) {
		t.Fatal("identity not kept")
	}
	os.WriteFile(filepath.Join(dir, "identity.secret"), []byte("garbage"), 0o600)
	if _, _, err := h.Identity(); err == nil || !strings.Contains(err.Error(), "identity.secret") {
		t.Fatalf("garbage identity: %v", err)
	}
}

func post(t *testing.T, n *Node, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://127.0.0.1:"+itoa(n.Port())+path, strings.NewReader(body))
	req.Header.Set("X-ZT1-Auth", n.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestControllerAndNetworksThroughAPI: a node creates a network on its own
// controller, joins it (its own controller configures it directly), and
// the state survives a restart.
func TestControllerAndNetworksThroughAPI(t *testing.T) {
	home := privateHome(t, rootSecret(t))
	n, stop := start(t, home)
	code, body := post(t, n, "POST", "/controller/network/cbf31c2eda______", `{"name":"self","private":true}`)
	if code != 200 {
		t.Fatalf("create: %d %s", code, body)
	}
	var netw map[string]any
	json.Unmarshal([]byte(body), &netw)
	id := netw["id"].(string)
	if code, body := post(t, n, "POST", "/network/"+id, "{}"); code != 200 || !strings.Contains(body, `"id":"`+id+`"`) {
		t.Fatalf("join: %d %s", code, body)
	}
	// Our own member record appears (unauthorized); authorize it.
	if code, body := post(t, n, "POST", "/controller/network/"+id+"/member/cbf31c2eda", `{"authorized":true}`); code != 200 {
		t.Fatalf("authorize: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := post(t, n, "GET", "/network/"+id, "")
		if strings.Contains(body, `"status":"OK"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("network not OK: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(home, "networks.d", id+".conf")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(home, "controller.d", "network", id+".json")); err != nil {
		t.Fatal(err)
	}
	stop()
	n, stop = start(t, home)
	defer stop()
	if _, body := post(t, n, "GET", "/network", ""); !strings.Contains(body, id) {
		t.Fatalf("network not rejoined after restart: %s", body)
	}
	if code, body := post(t, n, "DELETE", "/network/"+id, ""); code != 200 || body != `{"result":true}` {
		t.Fatalf("leave: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(home, "networks.d", id+".conf")); !os.IsNotExist(err) {
		t.Fatal("networks.d file kept after leave")
	}
}

func TestAllowedWithGateways(t *testing.T) {
	info := vl2.Info{
		Addresses: []netip.Prefix{netip.MustParsePrefix("10.1.0.5/24")},
		Routes: []vl2wire.Route{
			{Target: netip.MustParsePrefix("10.1.0.0/24")},
			{Target: netip.MustParsePrefix("10.200.0.0/16"), Via: netip.MustParseAddr("10.1.0.1")},
			{Target: netip.MustParsePrefix("10.201.0.0/16"), Via: netip.MustParseAddr("10.1.0.5")}, // we are the router
			{Target: netip.MustParsePrefix("0.0.0.0/0"), Via: netip.MustParseAddr("10.1.0.1")},
		},
	}
	_, routes, gw, vias := defaultSettings.allowedWithGateways(info)
	if len(routes) != 1 || len(gw) != 1 || gw[0] != netip.MustParsePrefix("10.200.0.0/16") || vias[0] != netip.MustParseAddr("10.1.0.1") {
		t.Fatalf("default settings: %v %v %v", routes, gw, vias)
	}
	s := defaultSettings
	s.AllowDefault = true
	_, _, gw, _ = s.allowedWithGateways(info)
	if len(gw) != 3 || gw[1] != netip.MustParsePrefix("0.0.0.0/1") || gw[2] != netip.MustParsePrefix("128.0.0.0/1") {
		t.Fatalf("allowDefault: %v", gw)
	}
	s = defaultSettings
	s.AllowManaged = false
	if a, r, g, _ := s.allowedWithGateways(info); a != nil || r != nil || g != nil {
		t.Fatal("allowManaged=0 still manages")
	}
}

// TestDevicesFollowNetworkState: a joined network gets a device from the
// factory, which receives the managed addresses, loses them with
// allowManaged=0, and is closed on leave.
func TestDevicesFollowNetworkState(t *testing.T) {
	home := privateHome(t, rootSecret(t))
	devs := map[uint64]*memdev.Device{}
	var mu sync.Mutex
	n, stop := startWith(t, Options{Home: home, Port: 0, Logger: slog.New(slog.DiscardHandler),
		Devices: func(nwid uint64, mac vl2wire.MAC, mtu int) (Device, error) {
			d := memdev.New("mem0", mtu)
			mu.Lock()
			devs[nwid] = d
			mu.Unlock()
			return d, nil
		}})
	defer stop()
	_, body := post(t, n, "POST", "/controller/network/cbf31c2eda______", `{"v4AssignMode":{"zt":true},"ipAssignmentPools":[{"ipRangeStart":"10.3.0.1","ipRangeEnd":"10.3.0.9"}],"routes":[{"target":"10.3.0.0/24"}]}`)
	var netw map[string]any
	json.Unmarshal([]byte(body), &netw)
	id := netw["id"].(string)
	nwid, _ := vl2wire.ParseNetworkID(id)
	post(t, n, "POST", "/network/"+id, "{}")
	post(t, n, "POST", "/controller/network/"+id+"/member/cbf31c2eda", `{"authorized":true}`)
	state := func() (bool, []netip.Prefix) {
		mu.Lock()
		d := devs[nwid]
		mu.Unlock()
		if d == nil {
			return false, nil
		}
		up, addrs, _ := d.State()
		return up, addrs
	}
	deadline := time.Now().Add(10 * time.Second)
	for up, addrs := state(); !up || len(addrs) != 1; up, addrs = state() {
		if time.Now().After(deadline) {
			t.Fatalf("device not configured: %v %v", up, addrs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, addrs := state(); !netip.MustParsePrefix("10.3.0.0/24").Contains(addrs[0].Addr()) {
		t.Fatalf("device address %v", addrs)
	}
	if _, body := post(t, n, "GET", "/network/"+id, ""); !strings.Contains(body, `"portDeviceName":"mem0"`) {
		t.Fatalf("network JSON %s", body)
	}
	// the ARP group of the assigned address, as 1.14.1 lists it
	_, addrs := state()
	a4 := addrs[0].Addr().As4()
	arp := fmt.Sprintf(`"multicastSubscriptions":[{"adi":%d,"mac":"ff:ff:ff:ff:ff:ff"}]`, uint32(a4[0])<<24|uint32(a4[1])<<16|uint32(a4[2])<<8|uint32(a4[3]))
	for _, path := range []string{"/network/" + id, "/network"} {
		if _, body := post(t, n, "GET", path, ""); !strings.Contains(body, arp) {
			t.Fatalf("%s: want %s in %s", path, arp, body)
		}
	}
	post(t, n, "POST", "/network/"+id, `{"allowManaged":false}`)
	if _, addrs := state(); len(addrs) != 0 {
		t.Fatalf("allowManaged=0 keeps %v", addrs)
	}
	post(t, n, "DELETE", "/network/"+id, "")
	mu.Lock()
	d := devs[nwid]
	mu.Unlock()
	if err := d.Inject([]byte("x")); err == nil {
		t.Fatal("device still open after leave")
	}
}

// TestMetrics: /metrics answers the metrics token as well as the auth
// token, refuses others, and carries the engine's, the offloads' and the
// TCP relay's counters.
func TestMetrics(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	home := privateHome(t, rootSecret(t))
	os.WriteFile(filepath.Join(home, "local.conf"), []byte(`{"settings":{"tcpFallbackRelay":"127.0.0.1/1"}}`), 0o644)
	n, stop := start(t, home)
	defer stop()
	if code, _, _ := get(t, n, "/metrics", map[string]string{"Authorization": "Bearer wrong"}); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	mt, err := os.ReadFile(filepath.Join(home, "metricstoken.secret"))
	if err != nil {
		t.Fatal(err)
	}
	code, _, body := get(t, n, "/metrics", map[string]string{"Authorization": "Bearer " + strings.TrimSpace(string(mt))})
	if code != 200 {
		t.Fatalf("metrics token: %d %s", code, body)
	}
	for _, want := range []string{"ztgo_datagrams_received_total ", `ztgo_dropped_total{reason="tx_queue"} `, `ztgo_dropped_total{reason="replay"} `, `ztgo_dropped_total{reason="multicast_table"} `, "ztgo_udp_gso_messages_total ",
		"ztgo_udp_gro_datagrams_total ", `ztgo_dropped_total{reason="tcp_relay_full"} `, "ztgo_tcp_relay_write_timeouts_total "} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

// TestJSONPCallbackIsAName: a JSONP callback is echoed only when it is a
// JavaScript name; anything else (script) is refused, not reflected.
func TestJSONPCallbackIsAName(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	n, stop := start(t, privateHome(t, rootSecret(t)))
	defer stop()
	auth := map[string]string{"X-ZT1-Auth": n.Token}
	if code, _, body := get(t, n, "/status?jsonp=cb.done_1", auth); code != 200 || !strings.HasPrefix(body, "cb.done_1({") {
		t.Fatalf("valid callback: %d %.40q", code, body)
	}
	for _, cb := range []string{"alert(1)//", "a;b", "<script>", "1a", "a..b"} {
		code, _, body := get(t, n, "/status?jsonp="+url.QueryEscape(cb), auth)
		if code != 400 || strings.Contains(body, cb) {
			t.Fatalf("callback %q: %d %.60q", cb, code, body)
		}
	}
}

// TestForgedPeerCacheEntryIsForgotten (issue 11, low): an identity in
// peers.d that fails its proof of work is checked in the background after
// start, forgotten and its file removed; a genuine entry stays.
func TestForgedPeerCacheEntryIsForgotten(t *testing.T) {
	testutil.NoGoroutineLeak(t)
	home := privateHome(t, rootSecret(t))
	zaSecret, err := os.ReadFile("../testdata/captures/basic/za.identity.secret")
	if err != nil {
		t.Fatal(err)
	}
	genuine, err := identity.Parse(strings.TrimSpace(string(zaSecret)))
	if err != nil {
		t.Fatal(err)
	}
	var pub [64]byte
	rand.Read(pub[:]) // real keys, but no proof of work for this address
	forged, err := identity.Parse(fmt.Sprintf("%010x:0:%x", 0x0123456789, pub))
	if err != nil {
		t.Fatal(err)
	}
	h := Home(home)
	for _, id := range []*identity.Identity{genuine.Public(), forged} {
		if err := h.SavePeer(CachedPeer{Identity: id, Addrs: []netip.AddrPort{netip.MustParseAddrPort("198.18.0.9:9993")}}); err != nil {
			t.Fatal(err)
		}
	}
	_, stop := start(t, home)
	defer stop()
	file := filepath.Join(home, "peers.d", forged.Address().String()+".peer")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(file); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the forged peers.d entry is still there")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(home, "peers.d", genuine.Address().String()+".peer")); err != nil {
		t.Fatalf("the genuine peers.d entry went too: %v", err)
	}
}
