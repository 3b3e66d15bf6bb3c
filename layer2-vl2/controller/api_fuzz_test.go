package controller

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzAPIBodies posts arbitrary bodies to the controller's REST API, to
// create a network, update it, and update a member: no body panics or
// makes a 5xx other than 1.14.1's 500 for a body that does not parse (or
// a non-string IP assignment), and the network still reads back as JSON
// afterwards.
func FuzzAPIBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name":"lab","private":true}`,
		`{"v4AssignMode":{"zt":true},"ipAssignmentPools":[{"ipRangeStart":"10.0.0.1","ipRangeEnd":"10.0.0.9"}],"routes":[{"target":"10.0.0.0/24"}]}`,
		`{"rules":[{"type":"ACTION_ACCEPT"}],"capabilities":[{"id":1,"rules":[]}],"tags":[{"id":1,"default":2}]}`,
		`{"rulesSource":"accept;"}`,
		`{"authorized":true,"ipAssignments":["10.0.0.5"],"tags":[[1,2]],"capabilities":[1]}`,
		`{"dns":{"domain":"x","servers":["10.0.0.1"]},"mtu":99999,"multicastLimit":-1}`,
		`[]`, `null`, `{"name":`, "\x00",
	} {
		f.Add([]byte(seed))
	}
	ctl := testIdentity(f, "controller")
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := New(Config{Identity: ctl, Now: func() time.Time { return time.UnixMilli(1_800_000_000_000) }})
		if err != nil {
			t.Fatal(err)
		}
		h := c.Handler()
		post := func(path string) (int, []byte) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(body)))
			return rec.Code, rec.Body.Bytes()
		}
		// 500 is the answer to what does not parse, and only to that. Like
		// 1.14.1's parser, the API refuses ill-formed UTF-8, which
		// json.Valid lets through.
		parses := json.Valid(body) && utf8.Valid(body)
		fail := func(code int, out []byte) bool {
			if code < 500 {
				return false
			}
			return code != 500 || parses && !bytes.Contains(out, []byte("type_error.302")) ||
				!bytes.HasPrefix(out, []byte(`{"error": 500, "description": `))
		}
		code, out := post("/controller/network/" + ctl.Address().String() + "______")
		if fail(code, out) {
			t.Fatalf("create: %d %s", code, out)
		}
		nwid := ctl.Address().String() + "000001"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/controller/network/"+nwid, bytes.NewReader([]byte(`{}`))))
		for _, path := range []string{"/controller/network/" + nwid, "/controller/network/" + nwid + "/member/0123456789"} {
			if code, out := post(path); fail(code, out) {
				t.Fatalf("POST %s: %d %s", path, code, out)
			}
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/controller/network/"+nwid, nil))
		if rec.Code != 200 || !bytes.HasPrefix(bytes.TrimSpace(rec.Body.Bytes()), []byte("{")) {
			t.Fatalf("network after the posts: %d %s", rec.Code, rec.Body.Bytes())
		}
	})
}
