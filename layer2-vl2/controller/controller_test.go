package controller

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/pgtest"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

func testIdentity(t testing.TB, name string) *identity.Identity {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "captures", "basic", name+".identity.secret"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// recorder is a Sender that keeps what the controller sent.
type recorder struct {
	configs []sentConfig
	errors  []wire.ErrorCode
	creds   []identity.Address
}

type sentConfig struct {
	to       identity.Address
	packetID uint64
	cfg      *vl2wire.NetworkConfig
}

func (r *recorder) SendConfig(to identity.Address, packetID, nwid uint64, dict []byte) error {
	cfg, err := vl2wire.ParseNetworkConfigBytes(dict)
	if err != nil {
		return err
	}
	r.configs = append(r.configs, sentConfig{to, packetID, cfg})
	return nil
}
func (r *recorder) SendConfigError(to identity.Address, packetID, nwid uint64, code wire.ErrorCode) {
	r.errors = append(r.errors, code)
}
func (r *recorder) SendCredentials(to identity.Address, payload []byte) {
	r.creds = append(r.creds, to)
}

type fixture struct {
	t     *testing.T
	c     *Controller
	rec   *recorder
	now   time.Time
	ctl   *identity.Identity
	dir   string // controller.d, for the file store
	store string // "files" or "postgres"
	conn  string // the PostgreSQL database, for "postgres"
	open  func() (Store, error)
	http  http.Handler
}

// newFixture is a controller on controller.d files.
func newFixture(t *testing.T) *fixture { return newFixtureOn(t, "files") }

// newFixtureOn is a controller on the store named: "files" (controller.d
// in a temporary directory) or "postgres" (a fresh database on a private
// server, see internal/pgtest).
func newFixtureOn(t *testing.T, store string) *fixture {
	f := &fixture{t: t, rec: &recorder{}, now: time.UnixMilli(1_800_000_000_000), ctl: testIdentity(t, "controller"), dir: t.TempDir(), store: store}
	switch store {
	case "files":
		f.open = func() (Store, error) { return OpenFiles(f.dir, nil) }
	case "postgres":
		f.conn = pgtest.Start(t).NewDatabase(t)
		f.open = func() (Store, error) { return OpenStore(context.Background(), "postgres:"+f.conn, nil) }
	default:
		t.Fatalf("no store %q", store)
	}
	f.c = f.reopen()
	f.http = f.c.Handler()
	return f
}

// reopen makes another controller on the fixture's store: a restart, or a
// second controller sharing the database. Only the fixture's first one
// sends through f.rec and follows f.now: on PostgreSQL the others follow
// its changes on goroutines of their own (replicas_test.go), so they send
// nothing and keep the time they were made at.
func (f *fixture) reopen() *Controller {
	f.t.Helper()
	s, err := f.open()
	if err != nil {
		f.t.Fatal(err)
	}
	var sender Sender = f.rec
	now := func() time.Time { return f.now }
	if f.c != nil {
		at := f.now
		sender, now = nil, func() time.Time { return at }
	}
	c, err := New(Config{Identity: f.ctl, Store: s, Sender: sender, Now: now})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return c
}

// forEachStore runs test on each store.
func forEachStore(t *testing.T, test func(t *testing.T, f *fixture)) {
	for _, store := range []string{"files", "postgres"} {
		t.Run(store, func(t *testing.T) { test(t, newFixtureOn(t, store)) })
	}
}

func (f *fixture) do(method, path string, body any) (int, map[string]any, string) {
	f.t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	rec := httptest.NewRecorder()
	f.http.ServeHTTP(rec, httptest.NewRequest(method, path, bytes.NewReader(b)))
	var m map[string]any
	json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m, rec.Body.String()
}

func (f *fixture) request(member *identity.Identity, nwid uint64, packetID uint64) {
	f.c.HandleConfigRequest(vl2.ConfigRequest{From: member.Public(), PacketID: packetID, NetworkID: nwid, Metadata: memberMetadata()})
}

// memberMetadata is what a 1.14.1 member says of itself in a config
// request: the versions and the rules engine revision the controller
// looks at.
func memberMetadata() vl2wire.Dictionary {
	var md vl2wire.Dictionary
	md.AddUint64("v", 7)
	md.AddUint64("majv", 1)
	md.AddUint64("minv", 14)
	md.AddUint64("revv", 1)
	md.AddUint64("pv", 12)
	md.AddUint64("revr", 1)
	return md
}

func TestNetworkCreateDefaultsAndStorage(t *testing.T) {
	forEachStore(t, testNetworkCreateDefaultsAndStorage)
}

func testNetworkCreateDefaultsAndStorage(t *testing.T, f *fixture) {
	code, n, body := f.do("POST", "/controller/network/"+f.ctl.Address().String()+"______", map[string]any{"name": "lab"})
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	id := n["id"].(string)
	if !strings.HasPrefix(id, f.ctl.Address().String()) || n["nwid"] != id || n["revision"] != float64(1) || n["private"] != true ||
		n["mtu"] != float64(2800) || n["multicastLimit"] != float64(32) || n["enableBroadcast"] != true || n["name"] != "lab" {
		t.Fatalf("network %s", body)
	}
	rules := n["rules"].([]any)
	if len(rules) != 1 || rules[0].(map[string]any)["type"] != "ACTION_ACCEPT" {
		t.Fatalf("default rules %v", rules)
	}
	if code, _, _ := f.do("POST", "/controller/network/0123456789______", nil); code != 400 {
		t.Fatalf("foreign controller address: %d", code)
	}
	if f.store == "files" {
		// controller.d layout: compact JSON with sorted keys, directory 0700.
		raw, err := os.ReadFile(filepath.Join(f.dir, "network", id+".json"))
		if err != nil || !bytes.HasPrefix(raw, []byte(`{"authTokens":[null],"authorizationEndpoint":"",`)) || bytes.Contains(raw, []byte("\n")) {
			t.Fatalf("stored network: %v %s", err, raw)
		}
		if st, _ := os.Stat(f.dir); st.Mode().Perm() != 0o700 {
			t.Fatalf("controller.d mode %v", st.Mode().Perm())
		}
	}
	// An update that changes nothing does not bump the revision.
	f.do("POST", "/controller/network/"+id, map[string]any{"name": "lab"})
	_, n2, _ := f.do("GET", "/controller/network/"+id, nil)
	if n2["revision"] != float64(1) {
		t.Fatalf("revision after a no-op POST: %v", n2["revision"])
	}
	if code, _, body := f.do("POST", "/controller/network/"+id, map[string]any{"mtu": 99999, "v6AssignMode": "rfc4193,zt", "routes": []any{map[string]any{"target": "10.1.0.0/16", "via": "fd00::1"}, map[string]any{"target": "bad"}}}); code != 200 {
		t.Fatalf("POST: %d %s", code, body)
	}
	_, n3, _ := f.do("GET", "/controller/network/"+id, nil)
	v6 := n3["v6AssignMode"].(map[string]any)
	routes := n3["routes"].([]any)
	if n3["mtu"] != float64(10000) || v6["rfc4193"] != true || v6["zt"] != true || len(routes) != 1 || routes[0].(map[string]any)["via"] != nil || n3["revision"] != float64(2) {
		t.Fatalf("after POST: %v", n3)
	}
	code, _, body = f.do("GET", "/controller/network", nil)
	if code != 200 || body != `["`+id+`"]` {
		t.Fatalf("network list %d %s", code, body)
	}
	if code, _, _ := f.do("GET", "/controller/network/ffffffffffffffff", nil); code != 404 {
		t.Fatalf("unknown network: %d", code)
	}
	if code, _, body := f.do("GET", "/controller", nil); code != 200 || !strings.Contains(body, `"apiVersion": 4`) {
		t.Fatalf("status %d %s", code, body)
	}
	// A restart reads back what was stored.
	if n4, err := f.reopen().Network(id); err != nil || !reflect.DeepEqual(n4, mustNetwork(t, f.c, id)) {
		t.Fatalf("reopened network %v %v", n4, err)
	}
}

func mustNetwork(t *testing.T, c *Controller, id string) record {
	t.Helper()
	n, err := c.Network(id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRequestAuthorizationAndIPAssignment(t *testing.T) {
	forEachStore(t, testRequestAuthorizationAndIPAssignment)
}

func testRequestAuthorizationAndIPAssignment(t *testing.T, f *fixture) {
	_, n, _ := f.do("POST", "/controller/network", map[string]any{"v4AssignMode": map[string]any{"zt": true},
		"ipAssignmentPools": []any{map[string]any{"ipRangeStart": "10.147.17.1", "ipRangeEnd": "10.147.17.254"}},
		"routes":            []any{map[string]any{"target": "10.147.17.0/24"}},
		"v6AssignMode":      map[string]any{"rfc4193": true}})
	nwid, _ := vl2wire.ParseNetworkID(n["id"].(string))
	member := testIdentity(t, "za")
	f.request(member, nwid, 11)
	if len(f.rec.errors) != 1 || f.rec.errors[0] != wire.ErrorNetworkAccessDenied || len(f.rec.configs) != 0 {
		t.Fatalf("unauthorized: %+v", f.rec)
	}
	path := "/controller/network/" + n["id"].(string) + "/member/" + member.Address().String()
	if code, m, _ := f.do("GET", path, nil); code != 200 || m["authorized"] != false || m["identity"] != member.String() {
		t.Fatalf("pending member %d %v", code, m)
	}
	f.do("POST", path, map[string]any{"authorized": true})
	f.now = f.now.Add(2 * time.Second)
	f.request(member, nwid, 12)
	if len(f.rec.configs) == 0 {
		t.Fatalf("no config: %+v", f.rec)
	}
	cfg := f.rec.configs[len(f.rec.configs)-1].cfg
	if cfg.IssuedTo != member.Address() || cfg.NetworkID != nwid || cfg.COM == nil || !cfg.COM.Verify(f.ctl) || len(cfg.COOs) != 1 {
		t.Fatalf("config %+v", cfg)
	}
	var v4 netip.Prefix
	for _, p := range cfg.StaticIPs {
		if p.Addr().Is4() {
			v4 = p
		}
	}
	if v4.Bits() != 24 || !netip.MustParsePrefix("10.147.17.0/24").Contains(v4.Addr()) || v4.Addr().As4()[3] == 255 || cfg.Flags&vl2wire.ConfigFlagNDPEmulation == 0 {
		t.Fatalf("static IPs %v flags %x", cfg.StaticIPs, cfg.Flags)
	}
	_, m, _ := f.do("GET", path, nil)
	if ips := m["ipAssignments"].([]any); len(ips) != 1 || ips[0] != v4.Addr().String() || m["vMinor"] != float64(14) {
		t.Fatalf("member record %v", m)
	}
	// Rate limit: a second request within a second is ignored.
	before := len(f.rec.configs)
	f.request(member, nwid, 13)
	if len(f.rec.configs) != before {
		t.Fatal("request within 1 s answered")
	}
	// Identity binding: another key claiming the address is denied.
	other := testIdentity(t, "root")
	fake, _ := identity.Parse(member.Address().String() + other.String()[10:])
	f.now = f.now.Add(2 * time.Second)
	f.request(fake, nwid, 14)
	if f.rec.errors[len(f.rec.errors)-1] != wire.ErrorNetworkAccessDenied {
		t.Fatal("identity mismatch not denied")
	}
	// Deauthorizing revokes (to online members) and tells the member.
	errs := len(f.rec.errors)
	f.do("POST", path, map[string]any{"authorized": false})
	if len(f.rec.errors) != errs+1 || f.rec.errors[errs] != wire.ErrorNetworkAccessDenied {
		t.Fatalf("deauthorized member not told: %v", f.rec.errors)
	}
	// Unknown network.
	f.request(member, nwid^1, 15)
	if f.rec.errors[len(f.rec.errors)-1] != wire.ErrorObjectNotFound {
		t.Fatal("unknown network not OBJ_NOT_FOUND")
	}
	// Reload from the store.
	c2 := f.reopen()
	if rec, err := c2.Member(n["id"].(string), member.Address().String()); err != nil || rec["authorized"] != false {
		t.Fatalf("reloaded member %v %v", rec, err)
	}
}

func TestMemberAPI(t *testing.T) { forEachStore(t, testMemberAPI) }

func testMemberAPI(t *testing.T, f *fixture) {
	_, n, _ := f.do("POST", "/controller/network", map[string]any{})
	id := n["id"].(string)
	code, m, _ := f.do("POST", "/controller/network/"+id+"/member/0123456789", map[string]any{
		"authorized": true, "ipAssignments": []any{"10.0.0.5", "bogus"}, "capabilities": []any{3, 1, 3}, "tags": []any{[]any{2, 7}, []any{1, 5}}, "name": "laptop"})
	if code != 200 || m["authorized"] != true || m["lastAuthorizedCredentialType"] != "api" || len(m["ipAssignments"].([]any)) != 1 ||
		len(m["capabilities"].([]any)) != 2 || m["tags"].([]any)[0].([]any)[0] != float64(1) || m["name"] != "laptop" {
		t.Fatalf("member %d %v", code, m)
	}
	code, list, _ := f.do("GET", "/controller/network/"+id+"/member", nil)
	if code != 200 || list["0123456789"] == nil {
		t.Fatalf("member list %d %v", code, list)
	}
	if code, _, _ := f.do("POST", "/controller/network/ffffffffffffffff/member/0123456789", map[string]any{}); code != 404 {
		t.Fatalf("member of unknown network: %d", code)
	}
	code, un, _ := f.do("GET", "/unstable/controller/network/"+id+"/member", nil)
	if code != 200 || un["meta"].(map[string]any)["authorizedCount"] != float64(1) {
		t.Fatalf("unstable members %v", un)
	}
	// A restart keeps the member; an update bumps its revision.
	if m2, err := f.reopen().Member(id, "0123456789"); err != nil || m2["name"] != "laptop" || m2["authorized"] != true || toInt(m2["revision"]) != 1 {
		t.Fatalf("reopened member %v %v", m2, err)
	}
	if _, m3, _ := f.do("POST", "/controller/network/"+id+"/member/0123456789", map[string]any{"name": "desk"}); m3["revision"] != float64(2) || m3["authorized"] != true {
		t.Fatalf("updated member %v", m3)
	}
	if code, _, _ := f.do("DELETE", "/controller/network/"+id+"/member/0123456789", nil); code != 200 {
		t.Fatalf("delete member %d", code)
	}
	if code, _, _ := f.do("GET", "/controller/network/"+id+"/member/0123456789", nil); code != 404 {
		t.Fatalf("deleted member still there: %d", code)
	}
	if code, _, _ := f.do("DELETE", "/controller/network/"+id, nil); code != 200 {
		t.Fatalf("delete network %d", code)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "network", id+".json")); f.store == "files" && !os.IsNotExist(err) {
		t.Fatal("network file left behind")
	}
	if ids := f.reopen().NetworkIDs(); len(ids) != 0 {
		t.Fatalf("deleted network back after a restart: %v", ids)
	}
}

// TestConcurrentAPICallsLoseNothing: many clients updating members and the
// network at once; every update lands and revisions count them.
func TestConcurrentAPICallsLoseNothing(t *testing.T) {
	forEachStore(t, testConcurrentAPICallsLoseNothing)
}

func testConcurrentAPICallsLoseNothing(t *testing.T, f *fixture) {
	_, n, _ := f.do("POST", "/controller/network", map[string]any{})
	id := n["id"].(string)
	srv := httptest.NewServer(f.http)
	defer srv.Close()
	done := make(chan error, 60)
	for i := range 50 {
		go func() {
			body := strings.NewReader(`{"authorized":true,"name":"m` + strconv.Itoa(i) + `"}`)
			resp, err := http.Post(srv.URL+"/controller/network/"+id+"/member/"+fmt.Sprintf("%010x", 0x1000000000+i), "application/json", body)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
	}
	for i := range 10 {
		go func() {
			resp, err := http.Post(srv.URL+"/controller/network/"+id, "application/json", strings.NewReader(`{"name":"n`+strconv.Itoa(i)+`"}`))
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
	}
	for range 60 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	members, _ := f.c.Members(id)
	if len(members) != 50 {
		t.Fatalf("%d members stored", len(members))
	}
	for a := range members {
		if m, _ := f.c.Member(id, a); m["authorized"] != true {
			t.Fatalf("member %s lost its update", a)
		}
	}
	netw, _ := f.c.Network(id)
	if rev := toInt(netw["revision"]); rev < 2 || rev > 11 {
		t.Fatalf("network revision %d after 10 updates", rev)
	}
	if ms, _ := f.reopen().Members(id); len(ms) != 50 {
		t.Fatalf("%d members on disk", len(ms))
	}
}

// TestStrangersLeaveNoState: requests for networks that do not exist
// (every node controls 2^24 IDs) leave nothing behind, their NOT_FOUND
// answers are rate-gated per requester, and members of a real network
// are forgotten once they stop asking.
func TestStrangersLeaveNoState(t *testing.T) {
	f := newFixture(t)
	member := testIdentity(t, "za")
	base := uint64(f.ctl.Address()) << 24
	for i := range 20000 {
		f.request(member, base|uint64(i+1), uint64(i+1))
	}
	if n := len(f.c.online); n != 0 {
		t.Fatalf("%d records kept for networks that do not exist", n)
	}
	if n := len(f.rec.errors); n != 1 {
		t.Fatalf("%d NOT_FOUND answers within one second, want 1", n)
	}
	f.now = f.now.Add(1100 * time.Millisecond)
	f.request(member, base|7, 99)
	if n := len(f.rec.errors); n != 2 || f.rec.errors[1] != wire.ErrorObjectNotFound {
		t.Fatalf("answers after the gate: %v", f.rec.errors)
	}

	_, n, _ := f.do("POST", "/controller/network/"+f.ctl.Address().String()+"______", map[string]any{"private": true})
	nwid, _ := vl2wire.ParseNetworkID(n["id"].(string))
	f.request(member, nwid, 1000)
	if len(f.c.online) != 1 {
		t.Fatalf("member of a real network not recorded: %d", len(f.c.online))
	}
	f.now = f.now.Add(time.Duration(authorizedWindow+expiryInterval) * time.Millisecond)
	f.request(testIdentity(t, "zb"), nwid^0xffffff, 1001) // any request sweeps
	if len(f.c.online) != 0 {
		t.Fatalf("a silent member is remembered after %d ms", authorizedWindow+expiryInterval)
	}
}

// TestDamagedRecordIsSetAside: a truncated member file (a crash mid-write
// on a file system without atomic rename, a full disk) is logged and moved
// aside on start, not skipped silently and then overwritten by the
// member's next request (issue 11, defect 9).
func TestDamagedRecordIsSetAside(t *testing.T) {
	f := newFixture(t)
	member := testIdentity(t, "za")
	_, n, _ := f.do("POST", "/controller/network/"+f.ctl.Address().String()+"______", map[string]any{"private": true})
	id := n["id"].(string)
	nwid, _ := vl2wire.ParseNetworkID(id)
	f.request(member, nwid, 1)
	f.do("POST", "/controller/network/"+id+"/member/"+member.Address().String(), map[string]any{"authorized": true})
	file := filepath.Join(f.dir, "network", id, "member", member.Address().String()+".json")
	whole, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, whole[:len(whole)/2], 0o600)

	var logged bytes.Buffer
	c2, err := New(Config{Identity: f.ctl, Dir: f.dir, Sender: f.rec, Now: func() time.Time { return f.now }, Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "moved aside") || !strings.Contains(logged.String(), member.Address().String()) {
		t.Fatalf("damaged file not logged:\n%s", logged.String())
	}
	aside, _ := filepath.Glob(file + ".damaged-*")
	if len(aside) != 1 {
		t.Fatalf("damaged file not set aside: %v", aside)
	}
	if b, _ := os.ReadFile(aside[0]); !bytes.Equal(b, whole[:len(whole)/2]) {
		t.Fatal("the damaged bytes were not kept")
	}
	// The member asks again: a fresh record, the damaged one untouched.
	f.now = f.now.Add(2 * time.Second)
	c2.HandleConfigRequest(vl2.ConfigRequest{From: member.Public(), PacketID: 2, NetworkID: nwid})
	if b, _ := os.ReadFile(aside[0]); !bytes.Equal(b, whole[:len(whole)/2]) {
		t.Fatal("the damaged record was overwritten")
	}
}

// TestPendingMembersAreCapped: strangers asking for a private network
// make at most maxPendingMembers records (issue 11, defect 8); an
// authorized member is not counted and keeps working.
func TestPendingMembersAreCapped(t *testing.T) {
	f := newFixture(t)
	f.c.db.store, _ = OpenFiles("", nil) // in memory: the cap, not the disk, is under test
	_, n, _ := f.do("POST", "/controller/network/"+f.ctl.Address().String()+"______", map[string]any{"private": true})
	nwid, _ := vl2wire.ParseNetworkID(n["id"].(string))
	for i := range maxPendingMembers + 200 {
		f.c.HandleConfigRequest(vl2.ConfigRequest{From: fakeMember(t, uint64(0x1000000000+i)), PacketID: uint64(i + 1), NetworkID: nwid})
	}
	if got := len(f.c.db.members[n["id"].(string)]); got != maxPendingMembers {
		t.Fatalf("%d member records from strangers, cap %d", got, maxPendingMembers)
	}
	// One is authorized: a slot frees, and its own requests still work.
	first := fakeMember(t, 0x1000000000)
	f.do("POST", "/controller/network/"+n["id"].(string)+"/member/"+first.Address().String(), map[string]any{"authorized": true})
	f.now = f.now.Add(2 * time.Second)
	configs := len(f.rec.configs)
	f.c.HandleConfigRequest(vl2.ConfigRequest{From: first, PacketID: 99999, NetworkID: nwid})
	if len(f.rec.configs) != configs+1 {
		t.Fatal("an authorized member got no config")
	}
}

// fakeMember is an identity with random keys and a chosen address: the
// controller checks identities against their records, not their proof of
// work (VL1 did that).
func fakeMember(t *testing.T, addr uint64) *identity.Identity {
	var pub [64]byte
	binary.BigEndian.PutUint64(pub[:], addr)
	id, err := identity.Parse(fmt.Sprintf("%010x:0:%x", addr, pub))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Bodies that do not parse are answered 500 with the parse error, and
// change nothing (1.14.1's exception handler).
func TestMalformedBodies(t *testing.T) {
	f := newFixture(t)
	post := func(path, body string) (int, string) {
		rec := httptest.NewRecorder()
		f.http.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(body)))
		return rec.Code, rec.Body.String()
	}
	create := "/controller/network/" + f.ctl.Address().String() + "______"
	for _, body := range []string{``, `{"name":`, `{"name":"x"}}`, `{"name":"x"} {}`, `nonsense`, "\x00", "{\"name\":\"\xff\"}"} {
		for _, path := range []string{create, "/controller/network"} {
			code, out := post(path, body)
			var m map[string]any
			if code != 500 || json.Unmarshal([]byte(out), &m) != nil || m["error"] != float64(500) ||
				!strings.HasPrefix(m["description"].(string), "[json.exception.parse_error.101] parse error at line 1, column ") {
				t.Errorf("POST %s %q: %d %s", path, body, code, out)
			}
		}
	}
	if ids := f.c.NetworkIDs(); len(ids) != 0 {
		t.Fatalf("networks made from broken bodies: %v", ids)
	}
	// JSON that is not an object counts as {}.
	for _, body := range []string{`[]`, `null`, `5`, ` "x" `} {
		if code, out := post(create, body); code != 200 {
			t.Errorf("POST %q: %d %s", body, code, out)
		}
	}
	_, n, _ := f.do("POST", create, map[string]any{"name": "lab"})
	id := n["id"].(string)
	if code, out := post("/controller/network/"+id, `{"name":"changed"`); code != 500 {
		t.Errorf("network update: %d %s", code, out)
	}
	if got, _ := f.c.Network(id); got["name"] != "lab" {
		t.Errorf("network changed by a broken body: %v", got["name"])
	}
	member := "/controller/network/" + id + "/member/0123456789"
	if code, _ := post(member, `{"authorized":true`); code != 500 {
		t.Errorf("member: %d", code)
	}
	if _, err := f.c.Member(id, "0123456789"); err == nil {
		t.Error("member made from a broken body")
	}
	// an unknown network is 404 before the body is looked at
	if code, _ := post("/controller/network/"+f.ctl.Address().String()+"fffffe/member/0123456789", `{`); code != 404 {
		t.Errorf("member of an unknown network: %d", code)
	}
	// a non-string IP assignment: 500 (type_error.302), nothing saved
	code, out := post(member, `{"authorized":true,"ipAssignments":["10.0.0.1",5]}`)
	if code != 500 || !strings.Contains(out, `[json.exception.type_error.302] type must be string, but is number`) {
		t.Errorf("ipAssignments [5]: %d %s", code, out)
	}
	if _, err := f.c.Member(id, "0123456789"); err == nil {
		t.Error("member made from a mistyped body")
	}
}

// Mistyped fields are read as 1.14.1 reads them: booleans from strings by
// their first character, numbers as non-zero, other values as the default.
func TestMistypedFields(t *testing.T) {
	f := newFixture(t)
	_, n, _ := f.do("POST", "/controller/network", map[string]any{"name": "lab"})
	id := n["id"].(string)
	member := "/controller/network/" + id + "/member/0123456789"
	for _, c := range []struct {
		v    any
		want bool
	}{{true, true}, {"yes", false}, {"true", true}, {"True", true}, {"1", true}, {"on", false},
		{1, true}, {0, false}, {2.5, true}, {true, true}, {map[string]any{}, false}, {true, true}, {nil, false}, {"", false}} {
		_, m, body := f.do("POST", member, map[string]any{"authorized": c.v})
		if m["authorized"] != c.want {
			t.Errorf("authorized %#v: %s", c.v, body)
		}
	}
	_, m, body := f.do("POST", member, map[string]any{"activeBridge": "t", "noAutoAssignIps": 7, "name": 42,
		"ipAssignments": []any{"10.1.2.3/24", "fd00::1", "bad"}})
	if m["activeBridge"] != true || m["noAutoAssignIps"] != true || m["name"] != "42" ||
		fmt.Sprint(m["ipAssignments"]) != "[10.1.2.3 fd00::1]" {
		t.Errorf("member %s", body)
	}
	_, m, _ = f.do("POST", member, map[string]any{"name": true})
	if m["name"] != "1" {
		t.Errorf("name true: %v", m["name"])
	}
	_, m, _ = f.do("POST", member, map[string]any{"name": []any{}})
	if m["name"] != "" {
		t.Errorf("name []: %v", m["name"])
	}

	for _, c := range []struct {
		body map[string]any
		key  string
		want any
	}{
		{map[string]any{"private": "yes"}, "private", false},
		{map[string]any{"private": nil}, "private", true},
		{map[string]any{"private": "True"}, "private", true},
		{map[string]any{"enableBroadcast": "no"}, "enableBroadcast", false},
		{map[string]any{"enableBroadcast": []any{}}, "enableBroadcast", false},
		{map[string]any{"enableBroadcast": 3}, "enableBroadcast", true},
		{map[string]any{"mtu": "1500"}, "mtu", float64(1500)},
		{map[string]any{"mtu": map[string]any{}}, "mtu", float64(2800)},
		{map[string]any{"multicastLimit": nil}, "multicastLimit", float64(32)},
		{map[string]any{"multicastLimit": true}, "multicastLimit", float64(1)},
		{map[string]any{"name": 7}, "name", "7"},
		{map[string]any{"name": nil}, "name", ""},
	} {
		_, n, body := f.do("POST", "/controller/network/"+id, c.body)
		if n[c.key] != c.want {
			t.Errorf("%v: %s = %v, want %v (%s)", c.body, c.key, n[c.key], c.want, body)
		}
	}
	_, n, body = f.do("POST", "/controller/network/"+id, map[string]any{"ipAssignmentPools": []any{
		map[string]any{"ipRangeStart": "10.0.0.1"}, map[string]any{"ipRangeStart": "10.0.0.1", "ipRangeEnd": "10.0.0.9"}}})
	if fmt.Sprint(n["ipAssignmentPools"]) != "[map[ipRangeEnd:10.0.0.9 ipRangeStart:10.0.0.1]]" {
		t.Errorf("pools %s", body)
	}
}

// The parse errors are placed (line, column) as 1.14.1 places them.
func TestParseErrorPosition(t *testing.T) {
	f := newFixture(t)
	for body, want := range map[string]string{
		``:                "parse error at line 1, column 1: syntax error while parsing value - unexpected end of input; expected '[', '{', or a literal",
		`{"name":`:        "parse error at line 1, column 9: syntax error while parsing value - unexpected end of input",
		`{"name":"x"}}`:   `parse error at line 1, column 13: syntax error while parsing value - unexpected '}'; expected end of input`,
		"{\n\"a\":1,\n!}": "parse error at line 3, column 1: ",
	} {
		rec := httptest.NewRecorder()
		f.http.ServeHTTP(rec, httptest.NewRequest("POST", "/controller/network", strings.NewReader(body)))
		var m map[string]any
		json.Unmarshal(rec.Body.Bytes(), &m)
		if d, _ := m["description"].(string); rec.Code != 500 || !strings.HasPrefix(d, "[json.exception.parse_error.101] "+want) {
			t.Errorf("%q: %d %s", body, rec.Code, rec.Body)
		}
	}
}

// TestStatsCountChanges: Stats counts networks, members, config requests
// and what saves did, as 1.14.1's controller_* series do.
func TestStatsCountChanges(t *testing.T) {
	f := newFixture(t)
	_, n, _ := f.do("POST", "/controller/network", map[string]any{"name": "a"})
	id := n["id"].(string)
	f.do("POST", "/controller/network/"+id, map[string]any{"name": "b"})           // network change
	f.do("POST", "/controller/network/"+id+"/member/0123456789", map[string]any{}) // member created
	f.do("POST", "/controller/network/"+id+"/member/0123456789", map[string]any{"authorized": true})
	f.do("POST", "/controller/network/"+id+"/member/0123456789", map[string]any{"name": "x"}) // member change
	f.do("POST", "/controller/network/"+id+"/member/0123456789", map[string]any{"authorized": false})
	f.do("POST", "/controller/network/"+id+"/member/1123456789", map[string]any{"authorized": true})
	f.do("DELETE", "/controller/network/"+id+"/member/1123456789", nil) // deauthorizes
	nwid, _ := strconv.ParseUint(id, 16, 64)
	f.request(testIdentity(t, "za"), nwid, 1) // a new, unauthorized member
	got := f.c.Stats()
	want := Stats{Networks: 1, Members: 2, ConfigRequests: 1, NetworkChanges: 1, MemberChanges: 3, MemberAuths: 2, MemberDeauths: 2}
	if got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
}

// TestActiveBridgesFollowMembers: a config names the network's active
// bridges as specialists, from an index kept with every member change
// (a build does not scan the members), on both stores.
func TestActiveBridgesFollowMembers(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		_, n, _ := f.do("POST", "/controller/network/"+f.ctl.Address().String()+"______", map[string]any{"private": true})
		id := n["id"].(string)
		nwid, _ := vl2wire.ParseNetworkID(id)
		member, bridge := fakeMember(t, 0x1000000001), fakeMember(t, 0x1000000002)
		for _, m := range []*identity.Identity{member, bridge} {
			f.do("POST", "/controller/network/"+id+"/member/"+m.Address().String(), map[string]any{"authorized": true})
		}
		bridges := func(packetID uint64) []uint64 {
			t.Helper()
			f.now = f.now.Add(2 * time.Second)
			f.request(member, nwid, packetID)
			cfg := f.rec.configs[len(f.rec.configs)-1].cfg
			var out []uint64
			for _, s := range cfg.Specialists {
				if s&vl2wire.SpecialistActiveBridge != 0 {
					out = append(out, s&0xffffffffff)
				}
			}
			return out
		}
		if got := bridges(1); len(got) != 0 {
			t.Fatalf("bridges before any: %x", got)
		}
		f.do("POST", "/controller/network/"+id+"/member/"+bridge.Address().String(), map[string]any{"activeBridge": true})
		if got := bridges(2); len(got) != 1 || got[0] != uint64(bridge.Address()) {
			t.Fatalf("bridges after one was made: %x", got)
		}
		f.do("POST", "/controller/network/"+id+"/member/"+bridge.Address().String(), map[string]any{"activeBridge": false})
		if got := bridges(3); len(got) != 0 {
			t.Fatalf("bridges after it stopped being one: %x", got)
		}
		f.do("POST", "/controller/network/"+id+"/member/"+bridge.Address().String(), map[string]any{"activeBridge": true})
		f.do("DELETE", "/controller/network/"+id+"/member/"+bridge.Address().String(), nil)
		if got := bridges(4); len(got) != 0 {
			t.Fatalf("bridges after it was deleted: %x", got)
		}
	})
}
