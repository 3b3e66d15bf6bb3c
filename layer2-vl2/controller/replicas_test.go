package controller

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ztgo/ztgo/internal/pgtest"
	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// Replicas are two controllers with one identity on one PostgreSQL
// database; the second one's store reports the first one's changes on a
// goroutine of its own, so its sender and clock are safe to use from there.
// Typical propagation from a commit on A to B (its memory, or its push) on
// a local server, under -race: 0.2-2 ms; after B's listening connection is
// killed, about 100 ms (the first backoff, then a full reload). The tests
// log what they measure.

// syncRecorder is a recorder that goroutines may use.
type syncRecorder struct {
	mu  sync.Mutex
	rec recorder
}

func (r *syncRecorder) SendConfig(to identity.Address, packetID, nwid uint64, dict []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rec.SendConfig(to, packetID, nwid, dict)
}

func (r *syncRecorder) SendConfigError(to identity.Address, packetID, nwid uint64, code wire.ErrorCode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec.SendConfigError(to, packetID, nwid, code)
}

func (r *syncRecorder) SendCredentials(to identity.Address, payload []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec.SendCredentials(to, payload)
}

func (r *syncRecorder) snapshot() recorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	return recorder{configs: slices.Clone(r.rec.configs), errors: slices.Clone(r.rec.errors), creds: slices.Clone(r.rec.creds)}
}

// replica is a second controller on the fixture's database, with its own
// sender and clock (milliseconds, set by the test).
type replica struct {
	*Controller
	rec   *syncRecorder
	clock atomic.Int64
}

func newReplica(t *testing.T, f *fixture) *replica {
	t.Helper()
	s, err := f.open()
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{rec: &syncRecorder{}}
	r.clock.Store(f.now.UnixMilli())
	c, err := New(Config{Identity: f.ctl, Store: s, Sender: r.rec, Now: func() time.Time { return time.UnixMilli(r.clock.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r.Controller = c
	return r
}

// within polls cond until it holds, failing after a few seconds; it returns
// how long that took.
func within(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s: not seen after %v", what, time.Since(start))
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// TestReplicasFollowEachOther: what A's API does, B's API shows at once —
// a network created and renamed, a member authorized and deleted — without
// a restart; and B's changes reach A the same way.
func TestReplicasFollowEachOther(t *testing.T) {
	pgtest.Start(t)
	testutil.NoGoroutineLeak(t)
	f := newFixtureOn(t, "postgres")
	b := newReplica(t, f)

	code, n, body := f.do("POST", "/controller/network", map[string]any{"name": "first"})
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	id := n["id"].(string)
	d := within(t, "network created on A, on B", func() bool {
		n, err := b.Network(id)
		return err == nil && n["name"] == "first"
	})
	t.Logf("network creation reached B in %v", d)

	if code, _, body := f.do("POST", "/controller/network/"+id, map[string]any{"name": "renamed"}); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	d = within(t, "rename on A, on B", func() bool {
		n, err := b.Network(id)
		return err == nil && n["name"] == "renamed"
	})
	t.Logf("rename reached B in %v", d)

	const addr = "0123456789"
	if code, _, body := f.do("POST", "/controller/network/"+id+"/member/"+addr, map[string]any{"authorized": true}); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	d = within(t, "authorization on A, on B", func() bool {
		m, err := b.Member(id, addr)
		return err == nil && m["authorized"] == true
	})
	t.Logf("authorization reached B in %v", d)
	if ms, err := b.Members(id); err != nil || ms[addr] != 1 {
		t.Fatalf("B lists %v %v", ms, err)
	}

	// And back: B's change reaches A.
	if _, err := b.SetMember(id, addr, record{"name": "from B"}); err != nil {
		t.Fatal(err)
	}
	within(t, "change on B, on A", func() bool {
		m, err := f.c.Member(id, addr)
		return err == nil && m["name"] == "from B"
	})

	if code, _, body := f.do("DELETE", "/controller/network/"+id+"/member/"+addr, nil); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	within(t, "member deletion on A, on B", func() bool {
		_, err := b.Member(id, addr)
		return err == ErrNotFound
	})
	if code, _, body := f.do("DELETE", "/controller/network/"+id, nil); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	within(t, "network deletion on A, on B", func() bool {
		_, err := b.Network(id)
		return err == ErrNotFound
	})
}

// TestReplicaPushesDeauthorization: a member that talks to B is
// deauthorized through A's API; B revokes it at once (a revocation to it
// and ERROR ACCESS_DENIED answering its last request) and refuses its next
// request.
func TestReplicaPushesDeauthorization(t *testing.T) {
	f := newFixtureOn(t, "postgres")
	b := newReplica(t, f)
	n, err := f.c.CreateNetwork(record{"name": "lab"})
	if err != nil {
		t.Fatal(err)
	}
	id := n["id"].(string)
	nwid, _ := vl2wire.ParseNetworkID(id)
	member := testIdentity(t, "za")
	addr := member.Address().String()
	if _, err := f.c.SetMember(id, addr, record{"authorized": true}); err != nil {
		t.Fatal(err)
	}
	within(t, "authorization on A, on B", func() bool {
		m, err := b.Member(id, addr)
		return err == nil && m["authorized"] == true
	})
	ask := func(packetID uint64) {
		b.HandleConfigRequest(vl2.ConfigRequest{From: member.Public(), PacketID: packetID, NetworkID: nwid, Metadata: memberMetadata()})
	}
	ask(7)
	if got := b.rec.snapshot(); !slices.ContainsFunc(got.configs, func(c sentConfig) bool { return c.packetID == 7 }) || len(got.errors) != 0 {
		t.Fatalf("B answered the authorized member with %+v", got)
	}

	// A change on A that leaves it authorized is pushed by B.
	if _, err := f.c.SetNetwork(id, record{"mtu": 1400}); err != nil {
		t.Fatal(err)
	}
	// (B may also have pushed a config for the authorization it followed
	// just before, if the member's request beat that push: look for the
	// one with the new MTU, not at a count.)
	within(t, "config pushed by B", func() bool {
		got := b.rec.snapshot()
		for _, c := range got.configs[1:] {
			if c.packetID == 0 && c.cfg.MTU == 1400 {
				return true
			}
		}
		return false
	})

	if _, err := f.c.SetMember(id, addr, record{"authorized": false}); err != nil {
		t.Fatal(err)
	}
	d := within(t, "revocation pushed by B", func() bool {
		got := b.rec.snapshot()
		return slices.Contains(got.errors, wire.ErrorNetworkAccessDenied) && slices.Contains(got.creds, member.Address())
	})
	t.Logf("deauthorization on A pushed by B in %v", d)
	if m, _ := b.Member(id, addr); m["authorized"] != false {
		t.Fatalf("B's member %v", m)
	}
	before := b.rec.snapshot()
	b.clock.Add(2000)
	ask(8)
	got := b.rec.snapshot()
	if len(got.configs) != len(before.configs) || len(got.errors) != len(before.errors)+1 || got.errors[len(got.errors)-1] != wire.ErrorNetworkAccessDenied {
		t.Fatalf("B answered the deauthorized member: %+v", got)
	}
}

// TestReplicaListenReconnects: B's listening connection is killed; B
// listens again, and what A changed meanwhile (its notification lost)
// still reaches B.
func TestReplicaListenReconnects(t *testing.T) {
	pgtest.Start(t)
	testutil.NoGoroutineLeak(t)
	f := newFixtureOn(t, "postgres")
	b := newReplica(t, f)
	n, err := f.c.CreateNetwork(record{"name": "lab"})
	if err != nil {
		t.Fatal(err)
	}
	id := n["id"].(string)
	within(t, "network on B", func() bool { _, err := b.Network(id); return err == nil })

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.conn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	kill := func() int {
		var killed int
		if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, listenerName).Scan(&killed); err != nil {
			t.Fatal(err)
		}
		return killed
	}
	if k := kill(); k != 2 { // A's and B's
		t.Fatalf("%d listeners terminated", k)
	}
	// Made before B listens again: its notification is lost, and B
	// finds it by reloading.
	if _, err := f.c.SetMember(id, "0123456789", record{"authorized": true}); err != nil {
		t.Fatal(err)
	}
	d := within(t, "change made while B was not listening", func() bool {
		m, err := b.Member(id, "0123456789")
		return err == nil && m["authorized"] == true
	})
	t.Logf("reached B after its listener was killed in %v", d)
	// And it listens again.
	if _, err := f.c.SetNetwork(id, record{"name": "again"}); err != nil {
		t.Fatal(err)
	}
	within(t, "change after B listens again", func() bool {
		n, err := b.Network(id)
		return err == nil && n["name"] == "again"
	})
	var listeners int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, listenerName).Scan(&listeners); err != nil || listeners != 2 {
		t.Fatalf("%d listeners after reconnecting: %v", listeners, err)
	}
}
