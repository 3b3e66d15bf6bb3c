package vl2_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/ztgo/ztgo/layer1-vl1/vl1test"
	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/vl2test"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// api calls the controller's REST API as ztncui or zero-ui would.
func api(t testing.TB, m *vl2test.Member, method, path string, body any) map[string]any {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	rec := httptest.NewRecorder()
	m.Controller.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, rd))
	if rec.Code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	var out map[string]any
	json.Unmarshal(rec.Body.Bytes(), &out)
	return out
}

type lab struct {
	h       *vl2test.Harness
	ctl     *vl2test.Member
	nwid    uint64
	members []*vl2test.Member
}

func (l *lab) ip(m *vl2test.Member) netip.Addr {
	for _, p := range m.Switch.Network(l.nwid).Info().Addresses {
		if p.Addr().Is4() {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

func (l *lab) mac(m *vl2test.Member) vl2wire.MAC { return m.Switch.Network(l.nwid).MAC() }

// newLab: a controller and n members on a private network with an IPv4
// pool, all authorized through the REST API.
func newLab(t testing.TB, n int, dir string, network map[string]any) *lab {
	h := vl2test.New(t, vl1test.Options{})
	l := &lab{h: h, ctl: h.AddController("ctl", dir)}
	body := map[string]any{"name": "lab", "private": true, "v4AssignMode": map[string]any{"zt": true},
		"ipAssignmentPools": []any{map[string]any{"ipRangeStart": "10.147.17.1", "ipRangeEnd": "10.147.17.254"}},
		"routes":            []any{map[string]any{"target": "10.147.17.0/24", "via": nil}}}
	for k, v := range network {
		body[k] = v
	}
	out := api(t, l.ctl, "POST", "/controller/network/"+l.ctl.Address().String()+"______", body)
	l.nwid, _ = vl2wire.ParseNetworkID(out["id"].(string))
	for i := range n {
		m := h.Add(fmt.Sprintf("m%d", i), 0)
		m.Join(l.nwid)
		l.members = append(l.members, m)
	}
	// They appear at the controller, unauthorized, and are told so.
	if !h.RunUntil(func() bool {
		for _, m := range l.members {
			if m.Switch.Network(l.nwid).Status() != vl2.StatusAccessDenied {
				return false
			}
		}
		return true
	}, 30*time.Second) {
		t.Fatalf("members not seen as unauthorized:\n%s", h.Describe())
	}
	for _, m := range l.members {
		api(t, l.ctl, "POST", fmt.Sprintf("/controller/network/%016x/member/%s", l.nwid, m.Address()), map[string]any{"authorized": true})
	}
	if !h.RunUntil(func() bool {
		for _, m := range l.members {
			if m.Switch.Network(l.nwid).Status() != vl2.StatusOK || !l.ip(m).IsValid() {
				return false
			}
		}
		return true
	}, 30*time.Second) {
		t.Fatalf("members not configured:\n%s", h.Describe())
	}
	return l
}

func TestJoinAuthorizeAndAddresses(t *testing.T) {
	l := newLab(t, 3, t.TempDir(), nil)
	seen := map[netip.Addr]bool{}
	for _, m := range l.members {
		ip := l.ip(m)
		if !netip.MustParsePrefix("10.147.17.0/24").Contains(ip) || seen[ip] {
			t.Fatalf("address %v", ip)
		}
		seen[ip] = true
		up, addrs, routes := m.Device(l.nwid).State()
		if !up || len(addrs) != 1 || addrs[0] != netip.PrefixFrom(ip, 24) || len(routes) != 1 {
			t.Fatalf("device state %v %v %v", up, addrs, routes)
		}
		rec := api(t, l.ctl, "GET", fmt.Sprintf("/controller/network/%016x/member/%s", l.nwid, m.Address()), nil)
		if rec["authorized"] != true || rec["vMajor"] != float64(1) || !strings.HasPrefix(rec["identity"].(string), m.Address().String()+":0:") {
			t.Fatalf("member record %v", rec)
		}
	}
}

// exchange sends a frame from a to b's MAC and returns what b's device got.
func deliveredTo(m *vl2test.Member, nwid uint64) [][]byte { return m.Device(nwid).Delivered() }

func TestUnicastARPAndICMP(t *testing.T) {
	l := newLab(t, 2, "", nil)
	a, b := l.members[0], l.members[1]
	// ARP request for b's IP: a broadcast that goes only to b's ADI group.
	a.Send(l.nwid, arpRequest(t, l.mac(a), l.ip(a), l.ip(b)))
	var got [][]byte
	l.h.RunUntil(func() bool { got = append(got, deliveredTo(b, l.nwid)...); return len(got) > 0 }, 10*time.Second)
	if len(got) != 1 {
		t.Fatalf("b got %d frames", len(got))
	}
	arp, _ := decode(got[0]).Layer(layers.LayerTypeARP).(*layers.ARP)
	if arp == nil || arp.Operation != layers.ARPRequest || !bytes.Equal(arp.DstProtAddress, l.ip(b).AsSlice()) {
		t.Fatalf("not the ARP request: %v", decode(got[0]))
	}
	b.Send(l.nwid, arpReply(t, l.mac(b), l.mac(a), l.ip(b), l.ip(a)))
	got = nil
	l.h.RunUntil(func() bool { got = append(got, deliveredTo(a, l.nwid)...); return len(got) > 0 }, 5*time.Second)
	if len(got) != 1 || decode(got[0]).Layer(layers.LayerTypeARP).(*layers.ARP).Operation != layers.ARPReply {
		t.Fatalf("a got %d frames", len(got))
	}
	// ICMP echo arrives byte for byte.
	for seq := range uint16(5) {
		frame := icmpEcho(t, l.mac(a), l.mac(b), l.ip(a), l.ip(b), seq)
		a.Send(l.nwid, frame)
		got = nil
		l.h.RunUntil(func() bool { got = append(got, deliveredTo(b, l.nwid)...); return len(got) > 0 }, 5*time.Second)
		if len(got) != 1 || !bytes.Equal(got[0], frame) {
			t.Fatalf("echo %d: got %d frames", seq, len(got))
		}
	}
}
