package perf

import (
	"math"
	"os"
	"strings"
	"testing"
)

func TestParseIperf(t *testing.T) {
	for _, c := range []struct {
		file    string
		bps     float64
		packets int
	}{
		{"tcp1.json", 23483684210.31591, 0},
		{"tcp4r.json", 15453156578.65132, 0},
		{"udp.json", 199814426.722552, 20817},
	} {
		b, err := os.ReadFile("testdata/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseIperf(b)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if r.Bps != c.bps || r.Packets != c.packets || r.Bytes == 0 || r.Seconds < 1 {
			t.Errorf("%s: %+v", c.file, r)
		}
	}
	b, _ := os.ReadFile("testdata/udp.json")
	r, _ := ParseIperf(b)
	if pps := r.PPS(); pps < 20800 || pps > 20820 || r.LossPercent() != 0 {
		t.Errorf("udp: %.0f pps, %.2f%% loss", pps, r.LossPercent())
	}
	b, _ = os.ReadFile("testdata/error.json")
	if _, err := ParseIperf(b); err == nil || !strings.Contains(err.Error(), "Connection refused") {
		t.Errorf("error report: %v", err)
	}
	if _, err := ParseIperf([]byte("iperf3: error - unable to connect")); err == nil {
		t.Error("no JSON: no error")
	}
}

func TestParsePing(t *testing.T) {
	b, _ := os.ReadFile("testdata/ping.txt")
	if min, avg, err := ParsePing(string(b)); err != nil || avg != 0.056 || min != 0.028 {
		t.Errorf("min %v, avg %v, %v", min, avg, err)
	}
	if _, _, err := ParsePing("5 packets transmitted, 0 received, 100% packet loss\n"); err == nil {
		t.Error("all lost: no error")
	}
}

func TestPingTimes(t *testing.T) {
	out := "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.\n" +
		"64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=0.301 ms\n" +
		"64 bytes from 10.0.0.2: icmp_seq=2 ttl=64 time=12.5 ms\n" +
		"64 bytes from 10.0.0.2: icmp_seq=3 ttl=64 time=0.207 ms\n\n" +
		"--- 10.0.0.2 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss, time 21ms\n" +
		"rtt min/avg/max/mdev = 0.207/4.336/12.500/5.773 ms\n"
	ts := PingTimes(out)
	if len(ts) != 3 || ts[0] != 0.301 || ts[1] != 12.5 || ts[2] != 0.207 {
		t.Fatalf("PingTimes = %v", ts)
	}
	if q := Quantile(ts, 0.5); q != 0.301 {
		t.Errorf("median %v", q)
	}
	if q := Quantile(ts, 0.1); q != 0.207 {
		t.Errorf("p10 %v", q)
	}
	if q := Quantile(nil, 0.5); !math.IsNaN(q) {
		t.Errorf("empty: %v", q)
	}
}

func TestParseProc(t *testing.T) {
	stat := "1234 (ztgo run) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 12 0 100 0 0"
	if cpu, err := ParseStatCPU(stat); err != nil || cpu != 3.25 {
		t.Errorf("cpu %v, %v", cpu, err)
	}
	st := ParseStatusKB("Name:\tztgo\nVmHWM:\t   26000 kB\nVmRSS:\t   25000 kB\nThreads:\t9\nSigQ:\t0/31\n")
	if st["VmRSS"] != 25000 || st["VmHWM"] != 26000 || st["Threads"] != 9 || len(st) != 3 {
		t.Errorf("status %v", st)
	}
	// This process's own files parse.
	if cpu, err := ProcCPU(os.Getpid()); err != nil || cpu < 0 {
		t.Errorf("own cpu %v, %v", cpu, err)
	}
	if st, err := ProcStatus(os.Getpid()); err != nil || st["VmRSS"] <= 0 {
		t.Errorf("own status %v, %v", st, err)
	}
}

func TestMedianAndTable(t *testing.T) {
	n := math.NaN()
	if m := Median([]float64{3, n, 1, 2}); m != 2 {
		t.Errorf("median %v", m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median %v", m)
	}
	if m := Median([]float64{n}); !math.IsNaN(m) {
		t.Errorf("median of nothing %v", m)
	}
	r := NewResult("ztgo ↔ ztgo")
	r.TCP = [4]float64{1171.4, 2000, n, 900}
	r.RTTms = 0.55
	r.CPUperGB = [2]float64{3.5, 4}
	r.RSSkB, r.HWMkB = [2]int64{26 * 1024, 25 * 1024}, [2]int64{27 * 1024, 26 * 1024}
	tab := Table([]Result{r, NewResult("bare underlay")})
	for _, want := range []string{"| ztgo ↔ ztgo | 1171 Mbit/s | 2000 Mbit/s | – | 900 Mbit/s | – | 0.550 ms | 3.50 / 4.00 | 26.0 / 25.0 MB (27.0 / 26.0) |",
		"| bare underlay | – | – | – | – | – | – | – | – |"} {
		if !strings.Contains(tab, want) {
			t.Errorf("table lacks %q:\n%s", want, tab)
		}
	}
}
