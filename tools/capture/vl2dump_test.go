package capture

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// TestDumpNetworkConfig: every config the lab controller sent is described
// in full — the network's name, the member it is for, its addresses,
// routes and rule count — in the text and the JSON fields.
func TestDumpNetworkConfig(t *testing.T) {
	recs, _ := decodeBasic(t)
	want := map[int]struct {
		to  string
		ips []string
	}{
		78:  {"203540ed5f", []string{"fd6a:65e3:3cf6:e2a3:8399:9320:3540:ed5f/88", "10.147.20.249/24"}},
		79:  {"203540ed5f", []string{"fd6a:65e3:3cf6:e2a3:8399:9320:3540:ed5f/88", "10.147.20.249/24"}},
		139: {"a9a35b19f2", []string{"fd6a:65e3:3cf6:e2a3:8399:93a9:a35b:19f2/88", "10.147.20.156/24"}},
		140: {"a9a35b19f2", []string{"fd6a:65e3:3cf6:e2a3:8399:93a9:a35b:19f2/88", "10.147.20.156/24"}},
	}
	seen := 0
	for _, r := range recs {
		isConfig := r.Verb == wire.VerbNETWORK_CONFIG ||
			r.Verb == wire.VerbOK && r.Fields["in_re_verb"] == wire.VerbNETWORK_CONFIG_REQUEST.String()
		if !isConfig {
			continue
		}
		seen++
		w, ok := want[r.Frame]
		if !ok {
			t.Errorf("frame %d: unexpected config", r.Frame)
			continue
		}
		f := r.Fields
		if f["network_id"] != "6a65e33cf6e2a383" || f["name"] != "ztlab-basic" || f["issued_to"] != w.to ||
			!reflect.DeepEqual(f["static_ips"], w.ips) || !reflect.DeepEqual(f["routes"], []string{"10.147.20.0/24"}) ||
			f["rule_count"] != 1 || f["offset"] != uint32(0) || f["config_error"] != nil {
			t.Errorf("frame %d: fields %v", r.Frame, f)
		}
		for _, s := range []string{`private network "ztlab-basic" rev 1 for ` + w.to, "IPs [" + strings.Join(w.ips, " ") + "]",
			"routes [10.147.20.0/24]", "1 rules", "mtu 2800", "bytes 0-"} {
			if !strings.Contains(r.Text, s) {
				t.Errorf("frame %d: %q lacks %q", r.Frame, r.Text, s)
			}
		}
	}
	if seen != 4 {
		t.Errorf("%d configs", seen)
	}
}

// TestDumpNetworkCredentials: each credential a NETWORK_CREDENTIALS carries
// is listed with its holder and timestamp.
func TestDumpNetworkCredentials(t *testing.T) {
	recs, _ := decodeBasic(t)
	seen := 0
	for _, r := range recs {
		if r.Verb != wire.VerbNETWORK_CREDENTIALS {
			continue
		}
		seen++
		creds, _ := r.Fields["credentials"].([]map[string]any)
		if len(creds) != 2 || creds[0]["type"] != "COM" || creds[1]["type"] != "COO" || creds[1]["id"] != uint32(1) {
			t.Fatalf("frame %d: credentials %v", r.Frame, creds)
		}
		holder := r.Source.String()
		if creds[0]["issued_to"] != holder || creds[1]["issued_to"] != holder || creds[0]["timestamp"] != creds[1]["timestamp"] {
			t.Errorf("frame %d: %v", r.Frame, creds)
		}
		if !strings.Contains(r.Text, "COM nwid 6a65e33cf6e2a383 to "+holder+" ts ") || !strings.Contains(r.Text, "COO 1 to "+holder) ||
			!strings.Contains(r.Text, "owns [fd6a:65e3:3cf6:e2a3:8399:93") || !strings.Contains(r.Text, " 10.147.20.") {
			t.Errorf("frame %d: %q", r.Frame, r.Text)
		}
		var buf bytes.Buffer
		if err := WriteJSON(&buf, r); err != nil || !json.Valid(buf.Bytes()) {
			t.Errorf("frame %d: JSON %v", r.Frame, err)
		}
	}
	if seen != 4 {
		t.Errorf("%d NETWORK_CREDENTIALS", seen)
	}
}
