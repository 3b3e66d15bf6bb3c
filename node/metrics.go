package node

import (
	"fmt"
	"net/http"
	"sort"

	vl1 "github.com/ztgo/ztgo/layer1-vl1"
)

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
