package node

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func call(t *testing.T, n *Node, method, path, body string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://127.0.0.1:"+itoa(n.Port())+path, strings.NewReader(body))
	req.Header.Set("X-ZT1-Auth", n.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestHealthVersionFields(t *testing.T) {
	n, stop := start(t, privateHome(t, rootSecret(t)))
	defer stop()
	_, m, body := get(t, n, "/health", nil)
	if m["versionMajor"] != float64(1) || m["versionMinor"] != float64(14) || m["versionRev"] != float64(1) ||
		m["versionBuild"] != float64(0) || m["version"] != "1.14.1" || m["online"] == nil || m["clock"] == nil {
		t.Fatalf("/health %s", body)
	}
}

// GET /config is local.conf as it stands; POST /config/settings sets
// settings keys in it (and the file).
func TestConfigEndpoints(t *testing.T) {
	home := privateHome(t, rootSecret(t))
	conf := `{"physical":{"10.0.0.0/8":{"blacklist":true}},"settings":{"allowTcpFallbackRelay":false}}`
	if err := os.WriteFile(filepath.Join(home, "local.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n, stop := start(t, home)
	defer stop()
	code, body, hdr := call(t, n, "GET", "/config", "")
	if code != 200 || body != conf || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("/config: %d %s", code, body)
	}
	if code, body, _ := call(t, n, "POST", "/config/settings", `{"primaryPort":9994}`); code != 200 || body != "{}" {
		t.Fatalf("POST /config/settings: %d %s", code, body)
	}
	_, body, _ = call(t, n, "GET", "/config", "")
	var got map[string]any
	json.Unmarshal([]byte(body), &got)
	s := got["settings"].(map[string]any)
	if s["primaryPort"] != float64(9994) || s["allowTcpFallbackRelay"] != false || got["physical"] == nil {
		t.Fatalf("/config after POST: %s", body)
	}
	file, _ := os.ReadFile(filepath.Join(home, "local.conf"))
	var onDisk map[string]any
	if json.Unmarshal(file, &onDisk) != nil || onDisk["settings"].(map[string]any)["primaryPort"] != float64(9994) {
		t.Fatalf("local.conf %s", file)
	}
	if code, _, _ := call(t, n, "POST", "/config/settings", `{"x":`); code != 500 {
		t.Fatalf("broken body: %d", code)
	}
	// and without local.conf: {}
	n2, stop2 := start(t, privateHome(t, rootSecret(t)))
	defer stop2()
	if code, body, _ := call(t, n2, "GET", "/config", ""); code != 200 || body != "{}" {
		t.Fatalf("/config without local.conf: %d %s", code, body)
	}
}

// 1.14.1's HTTP server: unknown paths and wrong methods are 404 with no
// body (never 405), unknown methods 400; /bond answers 400 without bonds.
func TestNotFoundAndBond(t *testing.T) {
	n, stop := start(t, privateHome(t, rootSecret(t)))
	defer stop()
	expectReplies(t, n, []apiReply{
		{"GET", "/nope", 404, ""},
		{"DELETE", "/status", 404, ""},
		{"POST", "/peer", 404, ""},
		{"GET", "/peer/xyz", 404, ""},
		{"GET", "/network/xyz", 404, "{}"},
		{"GET", "/controller/nope", 404, ""},
		{"PATCH", "/controller/network", 404, ""},
		{"GET", "/controller/network/cbf31c2eda000001", 404, ""},
		{"FROB", "/status", 400, ""},
		{"GET", "/bond/show/0123456789", 400, "{}"},
		{"POST", "/bond/rotate/0123456789", 400, "{}"},
		{"PUT", "/bond/rotate/0123456789", 400, "{}"},
		{"POST", "/bond/setmtu/1400/eth0/10.0.0.1", 400, "Bonding layer isn't active yet"},
		{"GET", "/bond/show/xyz", 404, ""},
		{"GET", "/bond/rotate/0123456789", 404, ""},
	})
	// without the token, unknown paths are 401 as the rest
	if code, _, body := get(t, n, "/nope", nil); code != 401 || body != "{}" {
		t.Errorf("/nope without token: %d %s", code, body)
	}
}

// apiReply is a request to the local API and the reply it must get.
type apiReply struct {
	method, path string
	code         int
	body         string
}

// expectReplies makes each request with the token and checks the reply.
func expectReplies(t *testing.T, n *Node, cases []apiReply) {
	t.Helper()
	for _, c := range cases {
		code, body, _ := call(t, n, c.method, c.path, "")
		if code != c.code || body != c.body {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, code, body, c.code, c.body)
		}
	}
}
