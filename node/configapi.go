package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// localConfig is a copy of local.conf as read (and as POST /config/settings
// changed it): what GET /config answers and /status builds on.
func (n *Node) localConfig() map[string]any {
	n.confMu.Lock()
	b, _ := json.Marshal(n.Conf.Raw)
	n.confMu.Unlock()
	out := map[string]any{}
	json.Unmarshal(b, &out)
	return out
}

// postSettings is POST /config/settings: each key of the body object is
// set in local.conf's settings and the file rewritten; as in 1.14.1 the
// running node applies them at its next start. A body that does not parse
// is 500, one that is not an object changes nothing.
func (n *Node) postSettings(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var body any
	if err := json.Unmarshal(b, &body); err != nil {
		d, _ := json.Marshal(fmt.Sprintf("[json.exception.parse_error.101] parse error: %v", err))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"error": 500, "description": %s}`, d)
		return
	}
	if set, ok := body.(map[string]any); ok {
		n.confMu.Lock()
		lc := map[string]any{}
		for k, v := range n.Conf.Raw {
			lc[k] = v
		}
		settings := map[string]any{}
		if old, ok := lc["settings"].(map[string]any); ok {
			for k, v := range old {
				settings[k] = v
			}
		}
		for k, v := range set {
			settings[k] = v
		}
		lc["settings"] = settings
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "    ")
		err := enc.Encode(lc)
		if err == nil {
			err = n.Home.WriteText("local.conf", string(bytes.TrimRight(buf.Bytes(), "\n")), 0o644)
		}
		if err == nil {
			n.Conf.Raw = lc
		} else {
			n.log.Warn("cannot write local.conf", "err", err)
		}
		n.confMu.Unlock()
	}
	reply(w, r, object{})
}
