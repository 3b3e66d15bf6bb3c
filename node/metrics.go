package node

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/bond"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// The series below carry ZeroTierOne 1.14.1's names, help texts and labels
// (node/Metrics.cpp), so that dashboards written for it read ztgo. They
// are read from the layers' live counters when scraped: nothing on the
// data path touches client_golang. ztgo's own series (ztgo_*) stand
// beside them. 1.14.1 series ztgo has no data for are not served.
var (
	descPacket = prometheus.NewDesc("zt_packet", "ZeroTier packet type counts",
		[]string{"packet_type", "direction"}, nil)
	descPacketError = prometheus.NewDesc("zt_packet_error", "ZeroTier packet errors",
		[]string{"error_type", "direction"}, nil)
	descData = prometheus.NewDesc("zt_data", "number of bytes ZeroTier has transmitted or received",
		[]string{"protocol", "direction"}, nil)
	descNumNetworks = prometheus.NewDesc("zt_num_networks", "number of networks this instance is joined to", nil, nil)
	descGroups      = prometheus.NewDesc("zt_network_multicast_groups_subscribed", "number of multicast groups networks are subscribed to",
		[]string{"network_id"}, nil)
	descNetPackets = prometheus.NewDesc("zt_network_packets", "number of incoming/outgoing packets per network",
		[]string{"direction", "network_id", "accepted"}, nil)
	descPathCount = prometheus.NewDesc("zt_peer_path_count", "number of paths to peer",
		[]string{"node_id", "status"}, nil)
	descCtlNetworks = prometheus.NewDesc("controller_network_count", "number of networks the controller is serving", nil, nil)
	descCtlMembers  = prometheus.NewDesc("controller_member_count", "number of network members the controller is serving", nil, nil)
	descCtlRequests = prometheus.NewDesc("controller_network_config_request", "count of config requests handled", nil, nil)
	descCtlNetChg   = prometheus.NewDesc("controller_network_change_count", "number of times a network configuration is changed", nil, nil)
	descCtlMemChg   = prometheus.NewDesc("controller_member_change_count", "number of times a network member configuration is changed", nil, nil)
	descCtlAuths    = prometheus.NewDesc("controller_member_auth_count", "number of network member auths", nil, nil)
	descCtlDeauths  = prometheus.NewDesc("controller_member_deauth_count", "number of network member deauths", nil, nil)

	descPackets   = prometheus.NewDesc("ztgo_packets_total", "VL1 packets received and sent, all verbs", []string{"direction"}, nil)
	descDatagrams = prometheus.NewDesc("ztgo_datagrams_received_total", "UDP/TCP-relay datagrams received", nil, nil)
	descDropped   = prometheus.NewDesc("ztgo_dropped_total", "packets and datagrams dropped, by reason", []string{"reason"}, nil)
	descRelayed   = prometheus.NewDesc("ztgo_relayed_total", "packets relayed for other nodes", nil, nil)
	descRdv       = prometheus.NewDesc("ztgo_rendezvous_sent_total", "RENDEZVOUS packets sent", nil, nil)
	descWhoisAns  = prometheus.NewDesc("ztgo_whois_answered_total", "WHOIS requests answered", nil, nil)
	descSendErr   = prometheus.NewDesc("ztgo_send_errors_total", "sends the physical link refused", nil, nil)
	descLatency   = prometheus.NewDesc("ztgo_peer_latency_ms", "current latency to a leaf peer (ms)", []string{"node_id"}, nil)

	descBondBonded    = prometheus.NewDesc("ztgo_bond_path_bonded", "1 if the peer's bond sends on the path (its bonded set)", []string{"node_id", "link", "path"}, nil)
	descBondEligible  = prometheus.NewDesc("ztgo_bond_path_eligible", "1 if the path is eligible for the peer's bond", []string{"node_id", "link", "path"}, nil)
	descBondLatency   = prometheus.NewDesc("ztgo_bond_path_latency_ms", "mean latency the peer's bond measured on the path (ms)", []string{"node_id", "link", "path"}, nil)
	descBondFailovers = prometheus.NewDesc("ztgo_bond_failovers_total", "times active-backup made another path the active one", []string{"node_id"}, nil)

	descGSOMsgs   = prometheus.NewDesc("ztgo_udp_gso_messages_total", "UDP GSO sends", nil, nil)
	descGSODgrams = prometheus.NewDesc("ztgo_udp_gso_datagrams_total", "datagrams sent in UDP GSO sends", nil, nil)
	descGSOOff    = prometheus.NewDesc("ztgo_udp_gso_disabled_total", "times UDP GSO was turned off after a failure", nil, nil)
	descGROMsgs   = prometheus.NewDesc("ztgo_udp_gro_messages_total", "UDP GRO receives", nil, nil)
	descGRODgrams = prometheus.NewDesc("ztgo_udp_gro_datagrams_total", "datagrams received in UDP GRO receives", nil, nil)
	descTCPSent   = prometheus.NewDesc("ztgo_tcp_relay_sent_total", "datagrams sent through the TCP relay", nil, nil)
	descTCPConn   = prometheus.NewDesc("ztgo_tcp_relay_connects_total", "connections made to the TCP relay", nil, nil)
	descTCPTO     = prometheus.NewDesc("ztgo_tcp_relay_write_timeouts_total", "TCP relay writes that timed out", nil, nil)
)

// packetTypes are zt_packet's packet_type values.
var packetTypes = []struct {
	verb wire.Verb
	name string
}{
	{wire.VerbNOP, "nop"}, {wire.VerbERROR, "error"}, {wire.VerbACK, "ack"},
	{wire.VerbQOS_MEASUREMENT, "qos"}, {wire.VerbHELLO, "hello"}, {wire.VerbOK, "ok"},
	{wire.VerbWHOIS, "whois"}, {wire.VerbRENDEZVOUS, "rendezvous"}, {wire.VerbFRAME, "frame"},
	{wire.VerbEXT_FRAME, "ext_frame"}, {wire.VerbECHO, "echo"}, {wire.VerbMULTICAST_LIKE, "multicast_like"},
	{wire.VerbNETWORK_CREDENTIALS, "network_credentials"},
	{wire.VerbNETWORK_CONFIG_REQUEST, "network_config_request"},
	{wire.VerbNETWORK_CONFIG, "network_config"}, {wire.VerbMULTICAST_GATHER, "multicast_gather"},
	{wire.VerbMULTICAST_FRAME, "multicast_frame"}, {wire.VerbPUSH_DIRECT_PATHS, "push_direct_paths"},
	{wire.VerbUSER_MESSAGE, "user_message"}, {wire.VerbREMOTE_TRACE, "remote_trace"},
	{wire.VerbPATH_NEGOTIATION, "path_negotiation_request"},
}

// errorTypes are zt_packet_error's error_type values (1.14.1's
// internal_server_error has no code on the wire and is left out).
var errorTypes = []struct {
	code wire.ErrorCode
	name string
}{
	{wire.ErrorObjectNotFound, "obj_not_found"}, {wire.ErrorUnsupportedOperation, "unsupported_operation"},
	{wire.ErrorIdentityCollision, "identity_collision"}, {wire.ErrorNeedMembershipCert, "need_membership_certificate"},
	{wire.ErrorNetworkAccessDenied, "network_access_denied"}, {wire.ErrorUnwantedMulticast, "unwanted_multicast"},
	{wire.ErrorNetworkAuthRequired, "authentication_required"},
}

// metricsCollector reads a node's counters at scrape time.
type metricsCollector struct{ n *Node }

func (metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descPacket, descPacketError, descData, descNumNetworks, descGroups, descNetPackets, descPathCount,
		descCtlNetworks, descCtlMembers, descCtlRequests, descCtlNetChg, descCtlMemChg, descCtlAuths, descCtlDeauths,
		descPackets, descDatagrams, descDropped, descRelayed, descRdv, descWhoisAns, descSendErr, descLatency,
		descBondBonded, descBondEligible, descBondLatency, descBondFailovers,
		descGSOMsgs, descGSODgrams, descGSOOff, descGROMsgs, descGRODgrams, descTCPSent, descTCPConn, descTCPTO,
	} {
		ch <- d
	}
}

func (c metricsCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}

	st := n.VL1.Stats()
	for _, v := range packetTypes {
		rx := st.ByVerbReceived[v.verb]
		if v.verb == wire.VerbHELLO {
			rx = st.HellosReceived // unencrypted HELLOs too, as 1.14.1
		}
		counter(descPacket, rx, v.name, "rx")
		counter(descPacket, st.ByVerbSent[v.verb], v.name, "tx")
	}
	for _, e := range errorTypes {
		counter(descPacketError, st.ErrorCodesReceived[e.code], e.name, "rx")
		counter(descPacketError, st.ErrorCodesSent[e.code], e.name, "tx")
	}
	counter(descPackets, st.PacketsReceived, "rx")
	counter(descPackets, st.PacketsSent, "tx")
	counter(descDatagrams, st.DatagramsReceived)
	for _, d := range []struct {
		reason string
		v      uint64
	}{
		{"junk", st.Junk}, {"malformed", st.Malformed}, {"bad_mac", st.BadMAC},
		{"bad_identity", st.BadIdentity}, {"rate_gated", st.RateGated},
		{"unexpected_ok", st.UnexpectedOK}, {"relay_refused", st.RelayRefused},
		{"hop_limit", st.HopLimit}, {"tx_queue", st.TxQueueDropped}, {"rx_queue", st.RxQueueDropped},
		{"replay", st.Replayed}, {"collision", st.Collisions}, {"refused", st.Refused},
		{"multicast_table", n.VL2.MulticastRefused()},
	} {
		counter(descDropped, d.v, d.reason)
	}
	counter(descRelayed, st.Relayed)
	counter(descRdv, st.Rendezvous)
	counter(descWhoisAns, st.WhoisAnswered)
	counter(descSendErr, st.SendErrors)

	b := n.bind.Bytes()
	counter(descData, b.UDPReceived, "udp", "rx")
	counter(descData, b.UDPSent, "udp", "tx")
	counter(descData, b.TCPSent, "tcp", "tx")
	counter(descData, b.TCPReceived, "tcp", "rx")

	u := n.udp.Stats()
	counter(descGSOMsgs, u.GSOMessages)
	counter(descGSODgrams, u.GSODatagrams)
	counter(descGSOOff, u.GSODisabled)
	counter(descGROMsgs, u.GROMessages)
	counter(descGRODgrams, u.GRODatagrams)
	counter(descDropped, u.Oversized, "udp_oversized")
	if t, ok := n.bind.RelayStats(); ok {
		counter(descTCPSent, t.Sent)
		counter(descTCPConn, t.Connects)
		counter(descTCPTO, t.WriteTimeouts)
		counter(descDropped, t.DroppedFull, "tcp_relay_full")
		counter(descDropped, t.DroppedDown, "tcp_relay_down")
		counter(descDropped, t.DroppedOversize, "tcp_relay_oversize")
		counter(descDropped, t.ReceiveDropped, "tcp_relay_receive")
	}

	nets := n.VL2.Networks()
	gauge(descNumNetworks, len(nets))
	for _, nw := range nets {
		id := fmt.Sprintf("%016x", nw.ID())
		gauge(descGroups, nw.GroupCount(), id)
		// Frames the rules judged; 1.14.1 leaves frames an explicit DROP
		// rule refused out of accepted="no", ztgo counts them.
		f := nw.FilterCounts()
		counter(descNetPackets, f.InAccepted, "rx", id, "yes")
		counter(descNetPackets, f.InDropped, "rx", id, "no")
		counter(descNetPackets, f.OutAccepted, "tx", id, "yes")
		counter(descNetPackets, f.OutDropped, "tx", id, "no")
	}

	for _, p := range n.VL1.Peers() {
		id := p.Address.String()
		alive, dead := 0, 0
		for _, pa := range p.Paths {
			if pa.Expired {
				dead++
			} else {
				alive++
			}
		}
		gauge(descPathCount, alive, id, "alive")
		gauge(descPathCount, dead, id, "dead")
		if p.Role == vl1.RoleLeaf && p.Latency >= 0 {
			gauge(descLatency, p.Latency, id)
		}
		if p.Bond != nil {
			if p.Bond.PolicyCode == int(bond.PolicyActiveBackup) {
				counter(descBondFailovers, p.Bond.ActiveChanges, id)
			}
			for _, ps := range p.Bond.Paths {
				path := ps.Key.Remote.String()
				gauge(descBondBonded, b2i(ps.Bonded), id, ps.Ifname, path)
				gauge(descBondEligible, b2i(ps.Eligible), id, ps.Ifname, path)
				ch <- prometheus.MustNewConstMetric(descBondLatency, prometheus.GaugeValue, float64(ps.LatencyMean), id, ps.Ifname, path)
			}
		}
	}

	if n.Controller != nil {
		cs := n.Controller.Stats()
		gauge(descCtlNetworks, cs.Networks)
		gauge(descCtlMembers, cs.Members)
		counter(descCtlRequests, cs.ConfigRequests)
		counter(descCtlNetChg, cs.NetworkChanges)
		counter(descCtlMemChg, cs.MemberChanges)
		counter(descCtlAuths, cs.MemberAuths)
		counter(descCtlDeauths, cs.MemberDeauths)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// metricsHandler serves the node's metrics in the Prometheus exposition
// format (1.14.1 serves a file it rewrites every 5 s; the content is what
// matters).
func (n *Node) metricsHandler() http.Handler {
	n.latency = newPeerLatency()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metricsCollector{n}, n.latency.hist)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// latencySampleInterval is how often zt_peer_latency samples each peer's
// latency: 1.14.1 observes it at every ping check (ZT_PING_CHECK_INTERVAL).
const latencySampleInterval = 5 * time.Second

// peerLatency is zt_peer_latency, 1.14.1's histogram of samples of each
// peer's current latency. A sample every few seconds per peer is far from
// the data path, so a HistogramVec serves.
type peerLatency struct {
	hist *prometheus.HistogramVec
	mu   sync.Mutex
	seen map[string]bool
}

func newPeerLatency() *peerLatency {
	return &peerLatency{
		hist: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "zt_peer_latency",
			Help:    "peer latency (ms)",
			Buckets: []float64{1, 3, 6, 10, 30, 60, 100, 300, 600, 1000},
		}, []string{"node_id"}),
		seen: map[string]bool{},
	}
}

// sample observes the latency of every peer whose latency is known
// (1.14.1 observes 65535 for an unknown one; ztgo leaves it out) and
// drops the series of peers that are gone.
func (l *peerLatency) sample(peers []vl1.PeerInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := make(map[string]bool, len(peers))
	for _, p := range peers {
		id := p.Address.String()
		now[id] = true
		if p.Latency >= 0 {
			l.hist.WithLabelValues(id).Observe(float64(p.Latency))
		}
	}
	for id := range l.seen {
		if !now[id] {
			l.hist.DeleteLabelValues(id)
		}
	}
	l.seen = now
}

// sampleLatency feeds zt_peer_latency until ctx ends.
func (n *Node) sampleLatency(ctx context.Context) {
	t := time.NewTicker(latencySampleInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.latency.sample(n.VL1.Peers())
		}
	}
}
