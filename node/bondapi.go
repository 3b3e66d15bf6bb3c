package node

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"

	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/bond"
)

// The /bond endpoints as 1.14.1 serves them (OneService.cpp, service-api.md
// §10.8): show is a bonded peer's /peer object, rotate moves an
// active-backup bond to its next link, setmtu sets the MTU of the bonded
// paths on one interface to one remote IP. Without bonding every one is a
// 400.

// bondPath is what 1.14.1 routes under /bond (anything else is 404).
var bondPath = regexp.MustCompile(`^/bond/(show/[0-9a-fA-F]{10}|rotate/[0-9a-fA-F]{10}|setmtu/[0-9]{1,6}/[a-zA-Z0-9_]{1,16}/[0-9a-fA-F.:]{1,39})$`)

func (n *Node) bondAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /bond/show/{addr}", n.bondRoute("", n.bondShow))
	for _, m := range []string{"POST", "PUT"} {
		mux.HandleFunc(m+" /bond/rotate/{addr}", n.bondRoute("", n.bondRotate))
		mux.HandleFunc(m+" /bond/setmtu/{mtu}/{iface}/{ip}", n.bondRoute("Bonding layer isn't active yet", n.bondSetMTU))
	}
}

// bondRoute answers what 1.14.1's patterns do not match with 404 and,
// with bonding off, 400 and inactive (or {}).
func (n *Node) bondRoute(inactive string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !bondPath.MatchString(r.URL.Path) {
			notFound(w)
			return
		}
		if !n.VL1.Bonding() {
			bondReply(w, http.StatusBadRequest, inactive)
			return
		}
		h(w, r)
	}
}

// bondReply writes body (1.14.1's setContent: an empty body reads {}).
func bondReply(w http.ResponseWriter, status int, body string) {
	if body == "" {
		body = "{}"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

func (n *Node) bondShow(w http.ResponseWriter, r *http.Request) {
	a, _ := parseAddr(r.PathValue("addr"))
	p, ok := n.VL1.Peer(a)
	if !ok || p.Bond == nil {
		bondReply(w, http.StatusBadRequest, "")
		return
	}
	reply(w, r, peerJSON(p, n.localPort, n.bind.Tunneled()))
}

func (n *Node) bondRotate(w http.ResponseWriter, r *http.Request) {
	a, _ := parseAddr(r.PathValue("addr"))
	status := http.StatusBadRequest
	if n.VL1.RotateBond(a) {
		status = http.StatusOK
	}
	bondReply(w, status, "{}")
}

func (n *Node) bondSetMTU(w http.ResponseWriter, r *http.Request) {
	mtu, _ := strconv.Atoi(r.PathValue("mtu"))
	if mtu < 68 || mtu > 65535 {
		bondReply(w, http.StatusBadRequest, "Specified MTU is not reasonable")
		return
	}
	if !n.VL1.SetBondMTU(mtu, r.PathValue("iface"), r.PathValue("ip")) {
		bondReply(w, http.StatusBadRequest, "Unable to find specified link")
		return
	}
	bondReply(w, http.StatusOK, "{}")
}

// bondPathJSON adds what 1.14.1 adds to a bonded peer's path object: the
// bond's view of the path (zero for a path outside the bond), with the
// ages counted from the path's own times, as _peerToJson counts them.
func bondPathJSON(po object, pa vl1.PathInfo, now int64) {
	b := pa.Bond
	if b == nil {
		b = new(bond.PathStatus)
	}
	mergeJSON(po, b)
	po["lastInAge"] = now - millis(pa.LastReceive)
	po["lastOutAge"] = now - millis(pa.LastSend)
}

// mergeJSON adds v's fields to o under their JSON names: bond.Status and
// bond.PathStatus name their fields as 1.14.1's JSON does.
func mergeJSON(o object, v any) {
	b, _ := json.Marshal(v)
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(b, &fields)
	for k, raw := range fields {
		o[k] = raw
	}
}
