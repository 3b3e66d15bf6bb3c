//go:build linux

package node

import (
	"encoding/json"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ztgo/ztgo/drivers/dns"
	"github.com/ztgo/ztgo/drivers/dns/dnstest"
	"github.com/ztgo/ztgo/drivers/memdev"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// TestDNSFollowsAllowDNS: a network whose controller pushes DNS gets it on
// its device's interface (the real DNS port, over a private D-Bus daemon
// to a recording stand-in for systemd-resolved) only while allowDNS is on;
// turning allowDNS off, the config dropping DNS, and leaving revert it.
func TestDNSFollowsAllowDNS(t *testing.T) {
	addr := dnstest.Bus(t)
	r := dnstest.NewResolved(t, addr)
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skipf("no lo interface: %v", err)
	}
	idx := int32(lo.Index)
	applier := dns.New(dns.Options{BusAddress: addr, Logger: slog.New(slog.DiscardHandler)})
	defer applier.Close()
	n, stop := startWith(t, Options{Home: privateHome(t, rootSecret(t)), Port: 0, Logger: slog.New(slog.DiscardHandler), DNS: applier,
		Devices: func(nwid uint64, mac vl2wire.MAC, mtu int) (Device, error) {
			// The port looks the interface up by name: lo stands in for
			// the network's TAP.
			return memdev.New("lo", mtu), nil
		}})
	defer stop()
	_, body := post(t, n, "POST", "/controller/network/cbf31c2eda______", `{"v4AssignMode":{"zt":true},"ipAssignmentPools":[{"ipRangeStart":"10.3.0.1","ipRangeEnd":"10.3.0.9"}],"routes":[{"target":"10.3.0.0/24"}],"dns":{"domain":"zt.example","servers":["10.3.0.53","fd00::53"]}}`)
	var netw map[string]any
	json.Unmarshal([]byte(body), &netw)
	id := netw["id"].(string)
	nwid, _ := vl2wire.ParseNetworkID(id)
	post(t, n, "POST", "/network/"+id, "{}")
	post(t, n, "POST", "/controller/network/"+id+"/member/cbf31c2eda", `{"authorized":true}`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := post(t, n, "GET", "/network/"+id, "")
		if strings.Contains(body, `"status":"OK"`) && strings.Contains(body, `"domain":"zt.example"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("network not OK with DNS: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := r.Calls(); len(got) != 0 {
		t.Fatalf("calls with allowDNS off: %+v", got)
	}

	set := []dnstest.Call{
		{Method: "SetLinkDNS", Index: idx, Servers: []dnstest.Server{
			{Family: 2, Address: []byte{10, 3, 0, 53}},
			{Family: 10, Address: []byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53}},
		}},
		{Method: "SetLinkDomains", Index: idx, Domains: []dnstest.Domain{{Domain: "zt.example", RoutingOnly: false}}},
	}
	revert := []dnstest.Call{{Method: "RevertLink", Index: idx}}
	expect := func(what string, want []dnstest.Call) {
		t.Helper()
		if got := r.WaitCalls(len(want)); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: calls %+v, want %+v", what, got, want)
		}
	}
	post(t, n, "POST", "/network/"+id, `{"allowDNS":true}`)
	expect("allowDNS on", set)
	// A refresh with the same DNS calls nothing again.
	n.VL2.Network(nwid).Refresh()
	post(t, n, "POST", "/network/"+id, `{"allowDNS":false}`)
	expect("allowDNS off", revert)

	post(t, n, "POST", "/network/"+id, `{"allowDNS":true}`)
	expect("allowDNS on again", set)
	// The config drops its DNS.
	info := n.VL2.Network(nwid).Info()
	info.DNS = vl2wire.DNS{}
	n.onNetworkChange(info)
	expect("config without DNS", revert)
	n.VL2.Network(nwid).Refresh()
	expect("config with DNS again", set)

	post(t, n, "DELETE", "/network/"+id, "")
	expect("leave", revert)
	time.Sleep(100 * time.Millisecond)
	if got := r.Calls(); len(got) != 0 {
		t.Fatalf("calls after leave: %+v", got)
	}
}
