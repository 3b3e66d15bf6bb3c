package controller

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"
)

var (
	nwidPattern = regexp.MustCompile(`^[0-9a-fA-F]{16}$`)
	addrPattern = regexp.MustCompile(`^[0-9a-fA-F]{10}$`)
)

// ErrNotFound is returned for unknown networks and members.
var ErrNotFound = errors.New("not found")

// Network returns a network record.
func (c *Controller) Network(nwid string) (record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.db.networks[strings.ToLower(nwid)]
	if n == nil {
		return nil, ErrNotFound
	}
	return clone(n), nil
}

// NetworkIDs lists the networks, ascending.
func (c *Controller) NetworkIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.db.networkIDs()
}

// CreateNetwork makes a network with a fresh ID under this controller
// (controller.md §9.4) and applies body.
func (c *Controller) CreateNetwork(body record) (record, error) {
	c.mu.Lock()
	prefix := uint64(c.addr) << 24
	id := ""
	for range 100000 {
		n := rand.Uint64() & 0xffffff
		cand := prefix | n
		if n == 0 {
			cand |= 1
		}
		if c.db.networks[nwidString(cand)] == nil {
			id = nwidString(cand)
			break
		}
	}
	c.mu.Unlock()
	if id == "" {
		return nil, errors.New("no free network ID")
	}
	return c.SetNetwork(id, body)
}

// SetNetwork creates or updates a network (POST /controller/network/<id>).
func (c *Controller) SetNetwork(nwid string, body record) (record, error) {
	nwid = strings.ToLower(nwid)
	now := c.now().UnixMilli()
	c.mu.Lock()
	body = normalize(body).(record)
	ch, err := c.db.updateNetwork(nwid, func(r record) record {
		if r == nil {
			r = record{}
		}
		initNetwork(r, nwid, now)
		applyNetworkPost(r, clone(body))
		return r
	})
	var members []string
	if ch {
		for a := range c.db.members[nwid] {
			members = append(members, a)
		}
	}
	out := clone(c.db.networks[nwid])
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	for _, a := range members {
		c.push(nwid, a)
	}
	return out, nil
}

// DeleteNetwork removes a network and revokes its members.
func (c *Controller) DeleteNetwork(nwid string) (record, error) {
	nwid = strings.ToLower(nwid)
	c.mu.Lock()
	n := c.db.networks[nwid]
	if n == nil {
		c.mu.Unlock()
		return nil, ErrNotFound
	}
	var members []string
	for a := range c.db.members[nwid] {
		members = append(members, a)
	}
	err := c.db.deleteNetwork(nwid)
	c.mu.Unlock()
	for _, a := range members {
		c.revoke(nwid, a)
	}
	return n, err
}

// Member returns a member record.
func (c *Controller) Member(nwid, addr string) (record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.db.members[strings.ToLower(nwid)][strings.ToLower(addr)]
	if m == nil {
		return nil, ErrNotFound
	}
	return clone(m), nil
}

// Members maps each member's address to its revision.
func (c *Controller) Members(nwid string) (map[string]int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	nwid = strings.ToLower(nwid)
	if c.db.networks[nwid] == nil {
		return nil, ErrNotFound
	}
	out := map[string]int64{}
	for a, m := range c.db.members[nwid] {
		out[a] = revisionOf(m)
	}
	return out, nil
}

// SetMember creates or updates a member; deauthorizing revokes it at once.
func (c *Controller) SetMember(nwid, addrText string, body record) (record, error) {
	nwid = strings.ToLower(nwid)
	addr := strings.ToLower(addrText)
	now := c.now().UnixMilli()
	c.mu.Lock()
	if c.db.networks[nwid] == nil {
		c.mu.Unlock()
		return nil, ErrNotFound
	}
	body = normalize(body).(record)
	var deauth bool
	ch, err := c.db.updateMember(nwid, addr, func(r record) record {
		if r == nil {
			r = record{}
		}
		initMember(r, nwid, addr, now)
		r["id"], r["address"] = addrText, addrText // as given in the URL, as 1.14.1 does
		deauth = applyMemberPost(r, clone(body), now)
		return r
	})
	out := clone(c.db.members[nwid][addr])
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if ch {
		c.memberChanged(nwid, addr, deauth)
	}
	return out, nil
}

// DeleteMember removes a member and revokes it.
func (c *Controller) DeleteMember(nwid, addr string) (record, error) {
	nwid, addr = strings.ToLower(nwid), strings.ToLower(addr)
	c.mu.Lock()
	m := c.db.members[nwid][addr]
	if m == nil {
		c.mu.Unlock()
		return nil, ErrNotFound
	}
	err := c.db.deleteMember(nwid, addr)
	c.mu.Unlock()
	c.revoke(nwid, addr)
	return m, err
}

// Handler serves the /controller REST API (controller.md §9). The caller
// does authentication.
func (c *Controller) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /controller", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\n\t\"controller\": true,\n\t\"apiVersion\": 4,\n\t\"clock\": %d,\n\t\"databaseReady\": true\n}\n", c.now().UnixMilli())
	})
	mux.HandleFunc("GET /controller/network", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, c.NetworkIDs()) })
	create := func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(r)
		if err != nil {
			failed(w, err)
			return
		}
		out, err := c.CreateNetwork(body)
		reply(w, out, err)
	}
	mux.HandleFunc("POST /controller/network", create)
	mux.HandleFunc("PUT /controller/network", create)
	mux.HandleFunc("/controller/network/{nwid}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("nwid")
		if strings.HasSuffix(id, "______") && len(id) == 16 && (r.Method == http.MethodPost || r.Method == http.MethodPut) {
			if id[:10] != c.addr.String() {
				noBody(w, http.StatusBadRequest)
				return
			}
			create(w, r)
			return
		}
		if !nwidPattern.MatchString(id) {
			noBody(w, http.StatusNotFound)
			return
		}
		switch r.Method {
		case http.MethodGet:
			out, err := c.Network(id)
			reply(w, out, err)
		case http.MethodPost, http.MethodPut:
			body, err := readBody(r)
			if err != nil {
				failed(w, err)
				return
			}
			out, err := c.SetNetwork(id, body)
			reply(w, out, err)
		case http.MethodDelete:
			out, err := c.DeleteNetwork(id)
			reply(w, out, err)
		default:
			noBody(w, http.StatusNotFound)
		}
	})
	mux.HandleFunc("GET /controller/network/{nwid}/member", func(w http.ResponseWriter, r *http.Request) {
		out, err := c.Members(r.PathValue("nwid"))
		if err != nil {
			reply(w, nil, err)
			return
		}
		writeJSON(w, out)
	})
	mux.HandleFunc("/controller/network/{nwid}/member/{addr}", func(w http.ResponseWriter, r *http.Request) {
		nwid, addr := r.PathValue("nwid"), r.PathValue("addr")
		if !nwidPattern.MatchString(nwid) || !addrPattern.MatchString(addr) {
			noBody(w, http.StatusNotFound)
			return
		}
		switch r.Method {
		case http.MethodGet:
			out, err := c.Member(nwid, addr)
			reply(w, out, err)
		case http.MethodPost, http.MethodPut:
			if _, err := c.Network(nwid); err != nil {
				reply(w, nil, err) // 404 comes before the body is read
				return
			}
			body, err := readBody(r)
			if err == nil {
				err = checkMemberPost(normalize(body).(record))
			}
			if err != nil {
				failed(w, err)
				return
			}
			out, err := c.SetMember(nwid, addr, body)
			reply(w, out, err)
		case http.MethodDelete:
			out, err := c.DeleteMember(nwid, addr)
			reply(w, out, err)
		default:
			noBody(w, http.StatusNotFound)
		}
	})
	mux.HandleFunc("GET /unstable/controller/network", func(w http.ResponseWriter, r *http.Request) {
		var data []any
		for _, id := range c.NetworkIDs() {
			n, err := c.Network(id)
			if err != nil {
				continue
			}
			total, auth := c.counts(id)
			n["meta"] = record{"totalMemberCount": total, "authorizedMemberCount": auth}
			data = append(data, n)
		}
		writeJSON(w, record{"data": orEmpty(data), "meta": record{"networkCount": len(data)}})
	})
	mux.HandleFunc("GET /unstable/controller/network/{nwid}/member", func(w http.ResponseWriter, r *http.Request) {
		nwid := strings.ToLower(r.PathValue("nwid"))
		c.mu.Lock()
		if c.db.networks[nwid] == nil {
			c.mu.Unlock()
			reply(w, nil, ErrNotFound)
			return
		}
		var data []any
		auth := 0
		for _, m := range c.db.members[nwid] {
			data = append(data, clone(m))
			if toBool(m["authorized"], false) {
				auth++
			}
		}
		c.mu.Unlock()
		writeJSON(w, record{"data": orEmpty(data), "meta": record{"totalCount": len(data), "authorizedCount": auth}})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			noBody(w, http.StatusNotFound) // no route: no 405 either
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// noBody answers as 1.14.1's handlers that only set a status: no body.
func noBody(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(code)
}

func (c *Controller) counts(nwid string) (total, authorized int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.db.members[nwid] {
		total++
		if toBool(m["authorized"], false) {
			authorized++
		}
	}
	return
}

// readBody decodes a POST body. What does not parse as JSON (an empty
// body included) is an error, which 1.14.1 answers with 500 before
// changing anything; JSON that is not an object counts as {}.
func readBody(r *http.Request) (record, error) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			// Go counts the offending byte as read
			return nil, parseError(b, int(se.Offset)-1, "syntax error while parsing value - "+se.Error())
		case len(bytes.TrimSpace(b)) == 0:
			return nil, parseError(b, len(b), "syntax error while parsing value - unexpected end of input; expected '[', '{', or a literal")
		default:
			return nil, parseError(b, len(b), "syntax error while parsing value - unexpected end of input")
		}
	}
	if rest := int(d.InputOffset()); len(bytes.TrimSpace(b[rest:])) > 0 {
		at := rest + bytes.IndexFunc(b[rest:], func(r rune) bool { return !strings.ContainsRune(" \t\r\n", r) })
		return nil, parseError(b, at, fmt.Sprintf("syntax error while parsing value - unexpected %q; expected end of input", b[at]))
	}
	if !utf8.Valid(b) {
		// Go would decode it with U+FFFD; nlohmann refuses it
		return nil, parseError(b, firstInvalidUTF8(b), "syntax error while parsing value - invalid string: ill-formed UTF-8 byte")
	}
	body, _ := v.(map[string]any)
	if body == nil {
		body = record{}
	}
	return body, nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// parseError words a JSON syntax error at byte pos of b as nlohmann's
// parse_error.101 is worded: line and column (1-based) of the offending
// byte; the detail after the dash is Go's for most errors.
func parseError(b []byte, pos int, msg string) error {
	line, col := 1, 1
	for i := 0; i < pos && i < len(b); i++ {
		col++
		if b[i] == '\n' {
			line, col = line+1, 1
		}
	}
	return fmt.Errorf("[json.exception.parse_error.101] parse error at line %d, column %d: %s", line, col, msg)
}

// failed answers as 1.14.1's exception handler: 500 and the error.
func failed(w http.ResponseWriter, err error) {
	d, _ := json.Marshal(err.Error())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `{"error": 500, "description": %s}`, d)
}

func reply(w http.ResponseWriter, v record, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		noBody(w, http.StatusNotFound)
	case err != nil:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(record{"error": 500, "description": err.Error()})
	default:
		writeJSON(w, v)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	b, _ := json.Marshal(v)
	w.Write(b)
}

// Stats are the controller's counts, for /metrics.
type Stats struct {
	Networks       int    // networks served
	Members        int    // members of those networks
	ConfigRequests uint64 // config requests for our networks since New

	// Since New: changes to existing networks; member records created,
	// changed or deleted without a change of authorization; members
	// authorized; members deauthorized (or deleted while authorized).
	NetworkChanges, MemberChanges, MemberAuths, MemberDeauths uint64
}

// Stats returns the controller's counts.
func (c *Controller) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.db.changes
	st := Stats{
		Networks: len(c.db.networks), ConfigRequests: c.configRequests.Load(),
		NetworkChanges: ch.networkChanges, MemberChanges: ch.memberChanges, MemberAuths: ch.memberAuths, MemberDeauths: ch.memberDeauths,
	}
	for nwid := range c.db.networks {
		st.Members += len(c.db.members[nwid])
	}
	return st
}
