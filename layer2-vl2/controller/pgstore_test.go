package controller

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ztgo/ztgo/internal/pgtest"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// TestPostgresSharedByTwoControllers: two controllers on one database
// update one member at once, from both sides; no update is lost (each
// bumps the revision once, and the last of each field is kept).
func TestPostgresSharedByTwoControllers(t *testing.T) {
	f := newFixtureOn(t, "postgres")
	_, n, _ := f.do("POST", "/controller/network", map[string]any{})
	id := n["id"].(string)
	const addr = "0123456789"
	if _, err := f.c.SetMember(id, addr, record{"name": "start"}); err != nil {
		t.Fatal(err)
	}
	// The second controller learns of the network at its start (and of
	// later changes as they are made: replicas_test.go).
	other := f.reopen()
	const each = 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*each+1)
	for i := range each {
		for side, c := range []*Controller{f.c, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.SetMember(id, addr, record{"name": fmt.Sprintf("c%d-%d", side, i)})
				errs <- err
			}()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := other.SetMember(id, addr, record{"authorized": true, "activeBridge": true})
		errs <- err
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	m, err := f.reopen().Member(id, addr)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := toInt(m["revision"]), int64(1+2*each+1); got != want {
		t.Fatalf("revision %d after %d updates: updates lost", got, want)
	}
	if m["authorized"] != true || m["activeBridge"] != true {
		t.Fatalf("an update was lost: %v", m)
	}
}

// TestPostgresMigrations: the schema is made once however many
// controllers start at once, and opening it again changes nothing.
func TestPostgresMigrations(t *testing.T) {
	conn := pgtest.Start(t).NewDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := OpenStore(context.Background(), "postgres:"+conn, nil)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := OpenStore(context.Background(), "postgres:"+conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := pgx.Connect(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var n, latest int
	if err := db.QueryRow(context.Background(), `SELECT count(*), max(version) FROM ztgo_schema_migrations`).Scan(&n, &latest); err != nil {
		t.Fatal(err)
	}
	if n != len(migrations)-1 || latest != len(migrations)-1 {
		t.Fatalf("%d migrations recorded, latest %d", n, latest)
	}
	// A schema newer than this ztgo is refused, not written to.
	if _, err := db.Exec(context.Background(), `INSERT INTO ztgo_schema_migrations (version) VALUES ($1)`, len(migrations)); err != nil {
		t.Fatal(err)
	}
	if s, err := OpenStore(context.Background(), "postgres:"+conn, nil); err == nil {
		s.Close()
		t.Fatal("a newer schema was accepted")
	}
}

// TestPostgresUpdatesAreAtomic: many writers through two stores on one
// database increment one member's counter; every increment lands, the
// member's first creation included.
func TestPostgresUpdatesAreAtomic(t *testing.T) {
	conn := pgtest.Start(t).NewDatabase(t)
	ctx := context.Background()
	var stores []Store
	for range 2 {
		s, err := OpenStore(ctx, "postgres:"+conn, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	const nwid, addr = "0123456789000001", "0123456789"
	if _, _, err := stores[0].UpdateNetwork(ctx, nwid, func(record) record { return record{"id": nwid} }); err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_, _, err := stores[w%2].UpdateMember(ctx, nwid, addr, func(cur record) record {
					if cur == nil {
						cur = record{"id": addr}
					}
					cur["count"] = toInt(cur["count"]) + 1
					return cur
				})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	_, members, err := stores[1].Load(ctx, nwid[:10])
	if err != nil {
		t.Fatal(err)
	}
	if got := toInt(members[nwid][addr]["count"]); got != writers*each {
		t.Fatalf("count %d after %d increments", got, writers*each)
	}
}

// TestOddStringsRoundTrip: strings with U+0000 (which jsonb refuses) and
// U+E000 (the escape for it) come back as given, after a restart too.
func TestOddStringsRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, f *fixture) {
		name := "a\x00b\ue000c\ue0000\ue000E"
		n, err := f.c.CreateNetwork(record{"name": name})
		if err != nil {
			t.Fatal(err)
		}
		id := n["id"].(string)
		if _, err := f.c.SetMember(id, "0123456789", record{"name": name + "\x00"}); err != nil {
			t.Fatal(err)
		}
		c := f.reopen()
		if n, _ := c.Network(id); n["name"] != name {
			t.Fatalf("network name %q", n["name"])
		}
		if m, _ := c.Member(id, "0123456789"); m["name"] != name+"\x00" {
			t.Fatalf("member name %q", m["name"])
		}
	})
}

// TestCopyRoundTrip: controller.d to PostgreSQL and back to a fresh
// controller.d gives the same records, byte for byte.
func TestCopyRoundTrip(t *testing.T) {
	f := newFixture(t)
	member := testIdentity(t, "za")
	n, _ := f.c.CreateNetwork(record{"name": "exported", "v4AssignMode": record{"zt": true},
		"ipAssignmentPools": []any{record{"ipRangeStart": "10.9.0.1", "ipRangeEnd": "10.9.0.9"}}, "rules": []any{record{"type": "ACTION_DROP"}}})
	id := n["id"].(string)
	nwid, _ := vl2wire.ParseNetworkID(id)
	f.request(member, nwid, 1)
	f.c.SetMember(id, member.Address().String(), record{"authorized": true, "name": "x\x00y", "tags": []any{[]any{1, 2}}})
	f.now = f.now.Add(2 * time.Second)
	f.request(member, nwid, 2)
	f.c.SetMember(id, "0123456789", record{"name": "pending"})
	f.c.SetNetwork(id, record{"mtu": 1400})
	ctx := context.Background()
	ctl := f.ctl.Address().String()
	src, _ := OpenFiles(f.dir, nil)
	pg, err := OpenStore(ctx, "postgres:"+pgtest.Start(t).NewDatabase(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if nets, mems, err := Copy(ctx, src, pg, ctl); err != nil || nets != 1 || mems != 2 {
		t.Fatalf("export: %d networks %d members %v", nets, mems, err)
	}
	back := t.TempDir()
	dst, _ := OpenFiles(back, nil)
	if nets, mems, err := Copy(ctx, pg, dst, ctl); err != nil || nets != 1 || mems != 2 {
		t.Fatalf("import: %d networks %d members %v", nets, mems, err)
	}
	for _, rel := range []string{networkPath(id), memberPath(id, member.Address().String()), memberPath(id, "0123456789")} {
		a, err1 := os.ReadFile(filepath.Join(f.dir, rel))
		b, err2 := os.ReadFile(filepath.Join(back, rel))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Fatalf("%s differs after the round trip (%v %v):\n%s\n%s", rel, err1, err2, a, b)
		}
	}
}
