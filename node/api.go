package node

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
	vl1 "github.com/ztgo/ztgo/layer1-vl1"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// The local API speaks zerotier-one's JSON (service-api.md §10); objects
// are maps so that keys come out sorted, as 1.14.1 writes them.
type object = map[string]any

var addrPath = regexp.MustCompile(`^[0-9a-fA-F]{10}$`)

func (n *Node) apiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { reply(w, r, n.statusJSON()) })
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		v := vl1.CompatVersion
		reply(w, r, object{"online": n.VL1.Status().Online, "clock": time.Now().UnixMilli(), "version": vl1Version(),
			"versionMajor": int(v.Major), "versionMinor": int(v.Minor), "versionRev": int(v.Revision), "versionBuild": 0})
	})
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, r *http.Request) { reply(w, r, n.localConfig()) })
	mux.HandleFunc("POST /config/settings", n.postSettings)
	mux.HandleFunc("PUT /config/settings", n.postSettings)
	n.bondAPI(mux)
	mux.HandleFunc("GET /peer", func(w http.ResponseWriter, r *http.Request) {
		out := []any{}
		for _, p := range n.VL1.Peers() {
			out = append(out, peerJSON(p, n.localPort, n.bind.Tunneled()))
		}
		reply(w, r, out)
	})
	mux.HandleFunc("GET /peer/{addr}", func(w http.ResponseWriter, r *http.Request) {
		a, ok := parseAddr(r.PathValue("addr"))
		if !ok {
			notFound(w)
			return
		}
		p, found := n.VL1.Peer(a)
		if !found {
			reply(w, r, object{})
			return
		}
		reply(w, r, peerJSON(p, n.localPort, n.bind.Tunneled()))
	})
	// ztgo extension: a VL1 ping (ECHO), relayed or direct.
	mux.HandleFunc("POST /ztgo/ping/{addr}", func(w http.ResponseWriter, r *http.Request) {
		a, ok := parseAddr(r.PathValue("addr"))
		if !ok {
			notFound(w)
			return
		}
		timeout := 5 * time.Second
		if ms, err := strconv.Atoi(r.URL.Query().Get("timeout")); err == nil && ms > 0 && ms <= 60000 {
			timeout = time.Duration(ms) * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		res, err := n.VL1.PingWait(ctx, a)
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusGatewayTimeout)
			json.NewEncoder(w).Encode(object{"error": 504, "description": "no reply from " + a.String()})
			return
		}
		reply(w, r, object{"address": a.String(), "rtt": res.RTT.Milliseconds(), "direct": res.Direct})
	})
	ctl := n.Controller.Handler()
	mux.Handle("/controller", ctl)
	mux.Handle("/controller/", ctl)
	mux.Handle("/unstable/controller/", ctl)
	n.networkAPI(mux)
	n.moonAPI(mux)
	mux.Handle("GET /metrics", n.metricsHandler())
	return knownMethods(n.authorize(routed(mux)))
}

// routed answers what no route matches as 1.14.1's HTTP server does: 404
// with no body, whatever the method (no 405).
func routed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			notFound(w)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNotFound)
}

// knownMethods refuses (400, no body) methods 1.14.1's HTTP server does
// not parse, before authentication as it does.
func knownMethods(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PRI":
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusBadRequest)
		}
	})
}

func vl1Version() string {
	v := vl1.CompatVersion
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Revision)
}

func parseAddr(s string) (identity.Address, bool) {
	if !addrPath.MatchString(s) {
		return 0, false
	}
	a, err := identity.ParseAddress(strings.ToLower(s))
	return a, err == nil
}

// authorize admits loopback clients (and allowManagementFrom's) with the token: X-ZT1-Auth, else
// ?auth=, else Authorization: Bearer (service-api.md §10.1).
func (n *Node) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !managementAllowed(r.RemoteAddr, n.Conf.AllowManagementFrom) {
			deny(w)
			return
		}
		if r.URL.Path != "/health" {
			var tok string
			switch {
			case r.Header.Get("X-ZT1-Auth") != "":
				tok = r.Header.Get("X-ZT1-Auth")
			case r.URL.Query().Has("auth"):
				tok = r.URL.Query().Get("auth")
			default:
				if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
					tok = h[7:]
				}
			}
			tok = strings.TrimSpace(tok)
			if !sameToken(tok, n.Token) && !(r.URL.Path == "/metrics" && sameToken(tok, n.metricsToken)) {
				deny(w)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// sameToken compares in constant time: how long a wrong guess took must
// not tell how much of it was right.
func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// jsonpCallback is what a JSONP callback name may be: a JavaScript
// identifier path (a.b_c$1), nothing that could inject script.
var jsonpCallback = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$`)

func deny(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	w.Write([]byte("{}"))
}

func reply(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":500}`, http.StatusInternalServerError)
		return
	}
	if cb := r.URL.Query().Get("jsonp"); cb != "" {
		if len(cb) > 128 || !jsonpCallback.MatchString(cb) {
			http.Error(w, `{"error":"jsonp: the callback must be a JavaScript name"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/javascript")
		fmt.Fprintf(w, "%s(%s);", cb, b)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (n *Node) statusJSON() object {
	st := n.VL1.Status()
	v := vl1.CompatVersion
	raw := n.localConfig()
	settings := object{}
	if s, ok := raw["settings"].(map[string]any); ok {
		for k, val := range s {
			settings[k] = val
		}
	}
	s := n.Conf.Settings
	ports := n.udp.Ports()
	settings["allowTcpFallbackRelay"] = boolOr(s.AllowTcpFallbackRelay, true)
	settings["forceTcpRelay"] = boolOr(s.ForceTcpRelay, false)
	if s.TcpFallbackRelay != nil {
		settings["tcpFallbackRelay"] = *s.TcpFallbackRelay
	}
	settings["portMappingEnabled"] = boolOr(s.PortMappingEnabled, true)
	settings["primaryPort"] = int(n.port)
	settings["secondaryPort"], settings["tertiaryPort"] = 0, 0
	if len(ports) > 1 {
		settings["secondaryPort"] = int(ports[1])
	}
	if len(ports) > 2 {
		settings["tertiaryPort"] = int(ports[2])
	}
	settings["homeDir"] = string(n.Home)
	var listening, surface []string
	for _, ap := range n.udp.LocalAddrs() {
		listening = append(listening, transport.FormatAddrPort(ap))
	}
	for _, ap := range st.LocalAddrs {
		surface = append(surface, transport.FormatAddrPort(ap))
	}
	settings["listeningOn"] = nonNil(listening)
	settings["surfaceAddresses"] = nonNil(surface)
	settings["softwareUpdate"] = "disable"
	settings["softwareUpdateChannel"] = "release"
	config := object{}
	for k, val := range raw {
		config[k] = val
	}
	config["settings"] = settings
	return object{
		"address":              st.Address.String(),
		"publicIdentity":       n.VL1.Identity().String(),
		"online":               st.Online,
		"tcpFallbackActive":    n.bind.Tunneled(),
		"versionMajor":         int(v.Major),
		"versionMinor":         int(v.Minor),
		"versionRev":           int(v.Revision),
		"versionBuild":         0,
		"version":              vl1Version(),
		"clock":                time.Now().UnixMilli(),
		"config":               config,
		"planetWorldId":        st.Planet.ID,
		"planetWorldTimestamp": st.Planet.Timestamp,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func millis(t time.Time) int64 {
	if t.IsZero() || t.UnixMilli() <= 0 {
		return 0
	}
	return t.UnixMilli()
}

// localPort is the port of a path's socket (0 for the TCP relay).
func (n *Node) localPort(socket int) int {
	if info, ok := n.udp.SocketInfo(socket); ok {
		return int(info.Port)
	}
	return 0
}

// peerJSON is a /peer object. localSocket is ztgo's socket number, as
// opaque as 1.14.1's; each interface address bound has its own (links.go).
func peerJSON(p vl1.PeerInfo, localPort func(socket int) int, tunneled bool) object {
	maj, min, rev := -1, -1, -1
	if p.Proto > 0 {
		maj, min, rev = int(p.Version.Major), int(p.Version.Minor), int(p.Version.Revision)
	}
	paths := []any{}
	now := time.Now().UnixMilli()
	for _, pa := range p.Paths {
		po := object{
			"address":       transport.FormatAddrPort(pa.Endpoint.Addr),
			"lastSend":      millis(pa.LastSend),
			"lastReceive":   millis(pa.LastReceive),
			"trustedPathId": 0,
			"active":        true,
			"expired":       false,
			"preferred":     pa.Preferred,
			"localSocket":   pa.Endpoint.Socket,
			"localPort":     localPort(pa.Endpoint.Socket),
		}
		if p.Bond != nil {
			bondPathJSON(po, pa, now)
		}
		paths = append(paths, po)
	}
	po := object{
		"address":      p.Address.String(),
		"versionMajor": maj,
		"versionMinor": min,
		"versionRev":   rev,
		"version":      fmt.Sprintf("%d.%d.%d", maj, min, rev),
		"latency":      p.Latency,
		"role":         string(p.Role),
		"isBonded":     p.IsBonded,
		"tunneled":     tunneled,
		"paths":        paths,
	}
	if p.Bond != nil {
		mergeJSON(po, p.Bond)
	}
	return po
}
