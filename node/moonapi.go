package node

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"

	vl1 "github.com/ztgo/ztgo/layer1-vl1"
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
			http.NotFound(w, r)
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
			http.NotFound(w, r)
			return
		}
		n.VL1.Deorbit(uint64(a))
		_ = os.Remove(n.Home.path("moons.d", fmt.Sprintf("%016x.moon", uint64(a))))
		reply(w, r, object{"result": true})
	})
	mux.HandleFunc("GET /metrics", n.metrics)
}

// transportCounters are the offload and TCP relay counters of the
// physical links.
func (n *Node) transportCounters() map[string]uint64 {
	u := n.udp.Stats()
	c := map[string]uint64{
		`ztgo_udp_gso_messages_total`:                u.GSOMessages,
		`ztgo_udp_gso_datagrams_total`:               u.GSODatagrams,
		`ztgo_udp_gso_disabled_total`:                u.GSODisabled,
		`ztgo_udp_gro_messages_total`:                u.GROMessages,
		`ztgo_udp_gro_datagrams_total`:               u.GRODatagrams,
		`ztgo_dropped_total{reason="udp_oversized"}`: u.Oversized,
	}
	if t, ok := n.bind.RelayStats(); ok {
		c[`ztgo_tcp_relay_sent_total`] = t.Sent
		c[`ztgo_tcp_relay_connects_total`] = t.Connects
		c[`ztgo_tcp_relay_write_timeouts_total`] = t.WriteTimeouts
		c[`ztgo_dropped_total{reason="tcp_relay_full"}`] = t.DroppedFull
		c[`ztgo_dropped_total{reason="tcp_relay_down"}`] = t.DroppedDown
		c[`ztgo_dropped_total{reason="tcp_relay_oversize"}`] = t.DroppedOversize
		c[`ztgo_dropped_total{reason="tcp_relay_receive"}`] = t.ReceiveDropped
	}
	return c
}

// metrics writes Prometheus text from the live counters (1.14.1 serves a
// file it rewrites every 5 s; the content is what matters).
func (n *Node) metrics(w http.ResponseWriter, r *http.Request) {
	st := n.VL1.Stats()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	counters := map[string]uint64{
		`zt_packet{direction="rx"}`:                     st.PacketsReceived,
		`zt_packet{direction="tx"}`:                     st.PacketsSent,
		`zt_packet{packet_type="hello",direction="rx"}`: st.HellosReceived,
		`zt_packet{packet_type="hello",direction="tx"}`: st.HellosSent,
		`ztgo_datagrams_received_total`:                 st.DatagramsReceived,
		`ztgo_dropped_total{reason="junk"}`:             st.Junk,
		`ztgo_dropped_total{reason="malformed"}`:        st.Malformed,
		`ztgo_dropped_total{reason="bad_mac"}`:          st.BadMAC,
		`ztgo_dropped_total{reason="bad_identity"}`:     st.BadIdentity,
		`ztgo_dropped_total{reason="rate_gated"}`:       st.RateGated,
		`ztgo_dropped_total{reason="unexpected_ok"}`:    st.UnexpectedOK,
		`ztgo_dropped_total{reason="relay_refused"}`:    st.RelayRefused,
		`ztgo_dropped_total{reason="hop_limit"}`:        st.HopLimit,
		`ztgo_relayed_total`:                            st.Relayed,
		`ztgo_rendezvous_sent_total`:                    st.Rendezvous,
		`ztgo_whois_answered_total`:                     st.WhoisAnswered,
		`ztgo_dropped_total{reason="tx_queue"}`:         st.TxQueueDropped,
		`ztgo_dropped_total{reason="rx_queue"}`:         st.RxQueueDropped,
		`ztgo_send_errors_total`:                        st.SendErrors,
		`ztgo_dropped_total{reason="replay"}`:           st.Replayed,
		`ztgo_dropped_total{reason="collision"}`:        st.Collisions,
		`ztgo_dropped_total{reason="refused"}`:          st.Refused,
		`ztgo_dropped_total{reason="multicast_table"}`:  n.VL2.MulticastRefused(),
	}
	for k, v := range n.transportCounters() {
		counters[k] = v
	}
	keys := make([]string, 0, len(counters))
	for k := range counters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s %d\n", k, counters[k])
	}
	fmt.Fprintf(w, "zt_num_networks %d\n", len(n.VL2.Networks()))
	for _, p := range n.VL1.Peers() {
		alive := 0
		for _, pa := range p.Paths {
			if !pa.Expired {
				alive++
			}
		}
		fmt.Fprintf(w, "zt_peer_path_count{node_id=%q,status=\"alive\"} %d\n", p.Address.String(), alive)
		if p.Role == vl1.RoleLeaf && p.Latency >= 0 {
			fmt.Fprintf(w, "ztgo_peer_latency_ms{node_id=%q} %d\n", p.Address.String(), p.Latency)
		}
	}
}
