package controller

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ztgo/ztgo/internal/pgtest"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// Scale benchmarks (spec/controller-scale.md): one network of 10 000
// authorized members, and 1 000 networks of 10, on each store. Run with
//
//	go test -run '^$' -bench Scale -benchtime 1x ./layer2-vl2/controller/

// countSender counts what the controller sends, without parsing it (the
// tests' recorder parses every config, which would be measured too).
type countSender struct{ configs, errors, creds atomic.Int64 }

func (s *countSender) SendConfig(to identity.Address, packetID, nwid uint64, dict []byte) error {
	s.configs.Add(1)
	return nil
}
func (s *countSender) SendConfigError(to identity.Address, packetID, nwid uint64, code wire.ErrorCode) {
	s.errors.Add(1)
}
func (s *countSender) SendCredentials(to identity.Address, payload []byte) { s.creds.Add(1) }

// scaleEnv is a controller on a store filled for a scale benchmark.
type scaleEnv struct {
	b     *testing.B
	ctl   *identity.Identity
	open  func() (Store, error)
	c     *Controller
	send  *countSender
	now   atomic.Int64 // ms
	nwids []string
}

// memberAddr is the address of member i: made up, as are the identities
// (scaleIdentity), since a config request is not checked for the proof of
// work and generating 10 000 real identities would take minutes.
func memberAddr(i int) string { return fmt.Sprintf("%010x", 0x1000000000+i) }

var scalePublic = func() string {
	id, err := identity.Parse("203540ed5f:0:83cad843e89e3ecbb75fc86ad94773e6360e9ac68d34d774f764771d7bb1b1527ed07ca30404ce352e88c45ccf032a92e8b1aa00baed8a15d7b480c3ca7fe5aa")
	if err != nil {
		panic(err)
	}
	return id.String()[len("203540ed5f"):]
}()

func scaleIdentity(b *testing.B, i int) *identity.Identity {
	id, err := identity.Parse(memberAddr(i) + scalePublic)
	if err != nil {
		b.Fatal(err)
	}
	return id
}

// newScaleEnv makes networks networks of members authorized members each
// on the store named ("files" or "postgres"), writing the members to the
// store directly, and opens a controller on them.
func newScaleEnv(b *testing.B, store string, networks, members int) *scaleEnv {
	e := &scaleEnv{b: b, ctl: testIdentity(b, "controller"), send: &countSender{}}
	e.now.Store(1_800_000_000_000)
	switch store {
	case "files":
		dir := b.TempDir()
		e.open = func() (Store, error) { return OpenFiles(dir, nil) }
	case "postgres":
		conn := pgtest.Start(b).NewDatabase(b)
		e.open = func() (Store, error) { return OpenStore(context.Background(), "postgres:"+conn, nil) }
	}
	e.c = e.reopen()
	for range networks {
		n, err := e.c.CreateNetwork(record{
			"v4AssignMode":      map[string]any{"zt": true},
			"ipAssignmentPools": []any{map[string]any{"ipRangeStart": "10.0.0.1", "ipRangeEnd": "10.0.255.254"}},
			"routes":            []any{map[string]any{"target": "10.0.0.0/16"}},
		})
		if err != nil {
			b.Fatal(err)
		}
		e.nwids = append(e.nwids, n["id"].(string))
	}
	e.c.Close()
	s, err := e.open()
	if err != nil {
		b.Fatal(err)
	}
	now := e.now.Load()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < networks*members; k += 4 {
				nwid, addr := e.nwids[k/members], memberAddr(k)
				_, _, err := s.UpdateMember(context.Background(), nwid, addr, func(record) record {
					m := record{"authorized": true, "lastAuthorizedTime": now, "lastAuthorizedCredentialType": "api", "revision": int64(1)}
					initMember(m, nwid, addr, now)
					return m
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	s.Close()
	e.c = e.reopen()
	return e
}

func (e *scaleEnv) reopen() *Controller {
	s, err := e.open()
	if err != nil {
		e.b.Fatal(err)
	}
	c, err := New(Config{Identity: e.ctl, Store: s, Sender: e.send, Now: func() time.Time { return time.UnixMilli(e.now.Load()) }})
	if err != nil {
		e.b.Fatal(err)
	}
	return c
}

func (e *scaleEnv) request(c *Controller, nwid string, i int, packetID uint64) {
	n, _ := vl2wire.ParseNetworkID(nwid)
	c.HandleConfigRequest(vl2.ConfigRequest{From: scaleIdentity(e.b, i), PacketID: packetID, NetworkID: n, Metadata: memberMetadata()})
}

// percentiles reports the p50 and p99 of durations, in µs, as prefix-p50-µs
// and prefix-p99-µs.
func percentiles(b *testing.B, prefix string, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	at := func(p float64) float64 { return float64(d[min(len(d)-1, int(p*float64(len(d))))].Nanoseconds()) / 1e3 }
	b.ReportMetric(at(0.50), prefix+"p50-µs")
	b.ReportMetric(at(0.99), prefix+"p99-µs")
}

// requests times config requests from the members given by who(k), k <
// count, per iteration: the first contact of each (which binds its
// identity and assigns an address, so writes to the store) untimed by
// b but reported as first-p50/p99, then refreshes a second later.
func (e *scaleEnv) requests(b *testing.B, count int, who func(k int) (nwid string, i int)) {
	var first, again []time.Duration
	before := e.send.configs.Load()
	var packet uint64
	for range b.N {
		for pass := range 2 {
			e.now.Add(requestRateLimit + 1)
			for k := range count {
				nwid, i := who(k)
				packet++
				t := time.Now()
				e.request(e.c, nwid, i, packet)
				d := time.Since(t)
				if pass == 0 && len(first) < count {
					first = append(first, d)
				} else {
					again = append(again, d)
				}
			}
		}
	}
	if got, want := e.send.configs.Load()-before, int64(2*count*b.N); got != want {
		b.Fatalf("%d configs sent for %d requests", got, want)
	}
	percentiles(b, "first-", first)
	percentiles(b, "", again)
}

func BenchmarkScale(b *testing.B) {
	for _, store := range []string{"files", "postgres"} {
		b.Run(store, func(b *testing.B) { benchmarkScale(b, store) })
	}
}

func benchmarkScale(b *testing.B, store string) {
	const members = 10000
	e := newScaleEnv(b, store, 1, members)
	nwid := e.nwids[0]

	b.Run("load-10k", func(b *testing.B) {
		var inuse float64
		for range b.N {
			e.c.Close()
			e.c = nil
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			e.c = e.reopen()
			runtime.GC()
			runtime.ReadMemStats(&after)
			inuse = float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / (1 << 20)
		}
		b.ReportMetric(inuse, "MB")
	})

	b.Run("request-10k", func(b *testing.B) {
		// 1 000 members spread over the network, each asking twice.
		e.requests(b, 1000, func(k int) (string, int) { return nwid, k * (members / 1000) })
	})

	b.Run("list-10k", func(b *testing.B) {
		var size int
		for range b.N {
			rec := httptest.NewRecorder()
			e.c.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/controller/network/"+nwid+"/member", nil))
			if rec.Code != http.StatusOK {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
			size = rec.Body.Len()
		}
		b.ReportMetric(float64(size), "bytes")
	})

	b.Run("deauth-10k", func(b *testing.B) {
		h := e.c.Handler()
		post := func(i int, authorized bool) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", "/controller/network/"+nwid+"/member/"+memberAddr(i), strings.NewReader(fmt.Sprintf(`{"authorized":%v}`, authorized))))
			if rec.Code != http.StatusOK {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
		var pushes int64
		for n := range b.N {
			i := n%(members/10)*10 + 1 // not one of request-10k's online members
			before := e.send.creds.Load()
			post(i, false)
			pushes = e.send.creds.Load() - before
			b.StopTimer()
			post(i, true)
			b.StartTimer()
		}
		b.ReportMetric(float64(pushes), "pushes")
	})
	if e.c != nil {
		e.c.Close()
	}

	b.Run("request-1000x10", func(b *testing.B) {
		e := newScaleEnv(b, store, 1000, 10)
		defer e.c.Close()
		b.ResetTimer()
		// One member of each network, each asking twice.
		e.requests(b, 1000, func(k int) (string, int) { return e.nwids[k], k*10 + k%10 })
	})
}
