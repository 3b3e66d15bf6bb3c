package node

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/world"

	transport "github.com/ztgo/ztgo/layer0-transport"
)

func moonJSON(w *world.World) object {
	roots := []any{}
	for _, r := range w.Roots {
		eps := []string{}
		for _, e := range r.StableEndpoints {
			eps = append(eps, transport.FormatAddrPort(e))
		}
		roots = append(roots, object{"identity": r.Identity.String(), "stableEndpoints": eps})
	}
	return object{"id": fmt.Sprintf("%016x", w.ID), "timestamp": w.Timestamp, "signature": hex.EncodeToString(w.Signature[:]),
		"updatesMustBeSignedBy": hex.EncodeToString(w.UpdatesMustBeSignedBy[:]), "roots": roots, "waiting": false}
}

// moonAPI serves /moon (service-api.md §10.6): list, orbit, deorbit.
func (n *Node) moonAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /moon", func(w http.ResponseWriter, r *http.Request) {
		_, moons := n.VL1.Worlds()
		out := []any{}
		for _, m := range moons {
			out = append(out, moonJSON(m))
		}
		reply(w, r, out)
	})
	find := func(id uint64) *world.World {
		_, moons := n.VL1.Worlds()
		for _, m := range moons {
			if m.ID == id {
				return m
			}
		}
		return nil
	}
	mux.HandleFunc("GET /moon/{id}", func(w http.ResponseWriter, r *http.Request) {
		a, ok := parseAddr(r.PathValue("id"))
		if m := find(uint64(a)); ok && m != nil {
			reply(w, r, moonJSON(m))
			return
		}
		reply(w, r, object{})
	})
	orbit := func(w http.ResponseWriter, r *http.Request) {
		a, ok := parseAddr(r.PathValue("id"))
		if !ok {
			notFound(w)
			return
		}
		id := uint64(a)
		if m := find(id); m != nil {
			reply(w, r, moonJSON(m))
			return
		}
		var body struct {
			Seed string `json:"seed"`
		}
		b, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		json.Unmarshal(b, &body)
		seed, err := identity.ParseAddress(strings.ToLower(body.Seed))
		if err != nil || seed == 0 {
			reply(w, r, object{})
			return
		}
		n.VL1.Orbit(id, seed, nil)
		reply(w, r, object{"id": fmt.Sprintf("%016x", id), "roots": []any{}, "timestamp": 0, "signature": nil, "updatesMustBeSignedBy": nil, "waiting": true})
	}
	mux.HandleFunc("POST /moon/{id}", orbit)
	mux.HandleFunc("PUT /moon/{id}", orbit)
	mux.HandleFunc("DELETE /moon/{id}", func(w http.ResponseWriter, r *http.Request) {
		a, ok := parseAddr(r.PathValue("id"))
		if !ok {
			notFound(w)
			return
		}
		n.VL1.Deorbit(uint64(a))
		_ = os.Remove(n.Home.path("moons.d", fmt.Sprintf("%016x.moon", uint64(a))))
		reply(w, r, object{"result": true})
	})
}
