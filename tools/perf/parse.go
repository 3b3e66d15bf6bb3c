package perf

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Iperf is the part of one `iperf3 -J` run that the benchmark reads.
type Iperf struct {
	Bps     float64 // bits per second at the receiver
	Bytes   float64 // bytes received
	Seconds float64
	// UDP only, as the server reported them.
	Packets, Lost int
}

// PPS is the UDP packets per second that arrived.
func (r Iperf) PPS() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Packets-r.Lost) / r.Seconds
}

// LossPercent is the UDP loss.
func (r Iperf) LossPercent() float64 {
	if r.Packets <= 0 {
		return 100
	}
	return 100 * float64(r.Lost) / float64(r.Packets)
}

type iperfSum struct {
	Seconds       float64 `json:"seconds"`
	Bytes         float64 `json:"bytes"`
	BitsPerSecond float64 `json:"bits_per_second"`
	Packets       int     `json:"packets"`
	LostPackets   int     `json:"lost_packets"`
}

// ParseIperf reads iperf3's JSON report. TCP results are the receiver's
// (end.sum_received, which -R and -P keep meaning "what arrived"); UDP
// results are the server's counts (end.sum_received, or end.sum in
// versions without it).
func ParseIperf(out []byte) (Iperf, error) {
	var j struct {
		Error string `json:"error"`
		Start struct {
			TestStart struct {
				Protocol string `json:"protocol"`
			} `json:"test_start"`
		} `json:"start"`
		End struct {
			Sum         *iperfSum `json:"sum"`
			SumReceived *iperfSum `json:"sum_received"`
		} `json:"end"`
	}
	// Some versions print text before the JSON on error; start at the brace.
	if i := strings.IndexByte(string(out), '{'); i > 0 {
		out = out[i:]
	}
	if err := json.Unmarshal(out, &j); err != nil {
		return Iperf{}, fmt.Errorf("iperf3 JSON: %v", err)
	}
	if j.Error != "" {
		return Iperf{}, errors.New("iperf3: " + j.Error)
	}
	if j.Start.TestStart.Protocol == "UDP" {
		s := j.End.SumReceived
		if s == nil {
			s = j.End.Sum
		}
		if s == nil {
			return Iperf{}, errors.New("iperf3 JSON: no end.sum")
		}
		return Iperf{Bps: s.BitsPerSecond, Bytes: s.Bytes, Seconds: s.Seconds, Packets: s.Packets, Lost: s.LostPackets}, nil
	}
	s := j.End.SumReceived
	if s == nil {
		return Iperf{}, errors.New("iperf3 JSON: no end.sum_received")
	}
	return Iperf{Bps: s.BitsPerSecond, Bytes: s.Bytes, Seconds: s.Seconds}, nil
}

var pingRTT = regexp.MustCompile(`(?m)^(?:rtt|round-trip) min/avg/max/(?:mdev|stddev) = ([0-9.]+)/([0-9.]+)/([0-9.]+)/([0-9.]+) ms`)

// ParsePing returns the minimum and average RTT in ms from ping's summary.
func ParsePing(out string) (min, avg float64, err error) {
	m := pingRTT.FindStringSubmatch(out)
	if m == nil {
		return math.NaN(), math.NaN(), fmt.Errorf("no rtt summary in ping output: %q", lastLine(out))
	}
	min, err = strconv.ParseFloat(m[1], 64)
	if err == nil {
		avg, err = strconv.ParseFloat(m[2], 64)
	}
	return min, avg, err
}

var pingTime = regexp.MustCompile(`(?m) time=([0-9.]+) ms$`)

// PingTimes returns the RTT of every reply in ms, from ping's output
// without -q.
func PingTimes(out string) []float64 {
	var ts []float64
	for _, m := range pingTime.FindAllStringSubmatch(out, -1) {
		if v, err := strconv.ParseFloat(m[1], 64); err == nil {
			ts = append(ts, v)
		}
	}
	return ts
}

// Quantile returns the q-quantile (0..1) of xs, NaN when empty.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	v := append([]float64(nil), xs...)
	sort.Float64s(v)
	return v[min(int(q*float64(len(v))), len(v)-1)]
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat;
// it is 100 on every Linux architecture Go supports.
const clockTick = 100

// ParseStatCPU returns utime+stime in seconds from /proc/PID/stat text
// (all threads of the process).
func ParseStatCPU(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat: no ')'")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("bad /proc stat: too few fields")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat: utime/stime")
	}
	return float64(ut+st) / clockTick, nil
}

// ProcCPU is ParseStatCPU of a running process.
func ProcCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return ParseStatCPU(string(b))
}

// ParseStatusKB returns the "Key:   N kB" lines of /proc/PID/status (or
// smaps_rollup) as kB, and the plain numbers (Threads) as they are.
func ParseStatusKB(status string) map[string]int64 {
	m := map[string]int64{}
	for _, line := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 || (len(f) == 2 && f[1] != "kB") || len(f) > 2 {
			continue
		}
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}

// ProcStatus is ParseStatusKB of /proc/PID/status.
func ProcStatus(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	return ParseStatusKB(string(b)), nil
}

// Median of the numbers that are not NaN; NaN if there are none.
func Median(xs []float64) float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// Result is one row of the table: a pair of endpoints a and b.
type Result struct {
	Pair string
	// TCP Mbit/s: a→b 1 stream, a→b 4 streams, b→a 1 stream, b→a 4 streams.
	TCP [4]float64
	// UDPpps is the highest rate of 1200-byte datagrams a→b that arrived
	// with at most LossLimit percent loss.
	UDPpps float64
	RTTms  float64
	// CPU seconds per GB moved over the TCP runs, and memory in kB, of the
	// daemon on a and on b (NaN / 0 where there is no daemon).
	CPUperGB [2]float64
	RSSkB    [2]int64
	HWMkB    [2]int64
	// RSS after the runs and a quiet spell (ZTGO_PERF_QUIET seconds),
	// when buffers a burst needed may have been given back.
	QuietkB [2]int64
}

// NewResult is a row with nothing measured yet.
func NewResult(pair string) Result {
	n := math.NaN()
	return Result{Pair: pair, TCP: [4]float64{n, n, n, n}, UDPpps: n, RTTms: n, CPUperGB: [2]float64{n, n}}
}

// Table renders the rows as markdown.
func Table(rows []Result) string {
	var b strings.Builder
	b.WriteString("| pair | TCP a→b 1 stream | TCP a→b 4 streams | TCP b→a 1 stream | TCP b→a 4 streams | UDP 1200 B loss-free | ping RTT | CPU s/GB a / b | RSS a / b: after the runs, quiet (peak) |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Pair,
			num(r.TCP[0], "%.0f Mbit/s"), num(r.TCP[1], "%.0f Mbit/s"), num(r.TCP[2], "%.0f Mbit/s"), num(r.TCP[3], "%.0f Mbit/s"),
			num(r.UDPpps/1000, "%.1f kpps"), num(r.RTTms, "%.3f ms"),
			pairOf(num(r.CPUperGB[0], "%.2f"), num(r.CPUperGB[1], "%.2f")),
			mem(r))
	}
	return b.String()
}

func mem(r Result) string {
	if r.RSSkB[0] == 0 && r.RSSkB[1] == 0 {
		return "–"
	}
	mb := func(kb int64) string { return fmt.Sprintf("%.1f", float64(kb)/1024) }
	quiet := ""
	if r.QuietkB[0] != 0 || r.QuietkB[1] != 0 {
		quiet = fmt.Sprintf(", %s / %s MB", mb(r.QuietkB[0]), mb(r.QuietkB[1]))
	}
	return fmt.Sprintf("%s / %s MB%s (%s / %s)", mb(r.RSSkB[0]), mb(r.RSSkB[1]), quiet, mb(r.HWMkB[0]), mb(r.HWMkB[1]))
}

func pairOf(a, b string) string {
	if a == "–" && b == "–" {
		return "–"
	}
	return a + " / " + b
}

func num(x float64, format string) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf(format, x)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
