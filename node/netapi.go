package node

import (
	"io"
	"net/http"

	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// networkAPI serves /network (service-api.md §10.4): list, join, leave.
func (n *Node) networkAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /network", func(w http.ResponseWriter, r *http.Request) {
		out := []any{}
		for _, nw := range n.VL2.Networks() {
			out = append(out, n.networkJSON(nw.Info()))
		}
		reply(w, r, out)
	})
	mux.HandleFunc("GET /network/{nwid}", func(w http.ResponseWriter, r *http.Request) {
		id, err := parseNWID(r.PathValue("nwid"))
		nw := n.VL2.Network(id)
		if err != nil || nw == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("{}"))
			return
		}
		reply(w, r, n.networkJSON(nw.Info()))
	})
	join := func(w http.ResponseWriter, r *http.Request) {
		id, err := parseNWID(r.PathValue("nwid"))
		if err != nil {
			notFound(w)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err := n.Home.saveSettings(id, applySettings(n.Home.loadSettings(id), body)); err != nil {
			n.log.Warn("cannot save network settings", "err", err)
		}
		nw, err := n.Join(id)
		if err != nil {
			http.Error(w, `{"error":500}`, http.StatusInternalServerError)
			return
		}
		nw.Refresh()
		reply(w, r, n.networkJSON(nw.Info()))
	}
	mux.HandleFunc("POST /network/{nwid}", join)
	mux.HandleFunc("PUT /network/{nwid}", join)
	mux.HandleFunc("DELETE /network/{nwid}", func(w http.ResponseWriter, r *http.Request) {
		id, err := parseNWID(r.PathValue("nwid"))
		if err != nil || n.Leave(id) != nil {
			reply(w, r, object{})
			return
		}
		reply(w, r, object{"result": true})
	})
}

func (n *Node) networkJSON(in vl2.Info) object {
	dev := ""
	if d := n.Device(in.NetworkID); d != nil {
		dev = d.Name()
	}
	st := n.Home.loadSettings(in.NetworkID)
	addrs := []string{}
	for _, a := range in.Addresses {
		addrs = append(addrs, a.String())
	}
	routes := []any{}
	for _, rt := range in.Routes {
		var via any
		if rt.Via.IsValid() {
			via = rt.Via.String()
		}
		routes = append(routes, object{"target": rt.Target.String(), "via": via, "flags": 0, "metric": 0})
	}
	mcs := []any{}
	for _, g := range in.MulticastSubscriptions {
		mcs = append(mcs, object{"mac": g.MAC.String(), "adi": g.ADI})
	}
	return object{
		"multicastSubscriptions": mcs,
		"id":                     vl2wire.NetworkIDString(in.NetworkID),
		"nwid":                   vl2wire.NetworkIDString(in.NetworkID),
		"mac":                    in.MAC.String(),
		"name":                   in.Name,
		"status":                 in.Status.String(),
		"type":                   in.Type,
		"mtu":                    in.MTU,
		"dhcp":                   false,
		"bridge":                 in.Bridge,
		"broadcastEnabled":       in.BroadcastEnabled,
		"portError":              portError(in.Status),
		"netconfRevision":        in.Revision,
		"assignedAddresses":      addrs,
		"routes":                 routes,
		"portDeviceName":         dev,
		"allowManaged":           st.AllowManaged,
		"allowGlobal":            st.AllowGlobal,
		"allowDefault":           st.AllowDefault,
		"allowDNS":               st.AllowDNS,
		"dns":                    object{"domain": in.DNS.Domain, "servers": []string{}},
	}
}

// portError is what 1.14.1 reports for a network whose OS device could not
// be made: its port callback's -999.
func portError(s vl2.Status) int {
	if s == vl2.StatusPortError {
		return -999
	}
	return 0
}
