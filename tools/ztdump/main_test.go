package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	ztcli "github.com/ztgo/ztgo/cli"
	"github.com/ztgo/ztgo/internal/testutil"
)

// result is what one in-process run of ztdump produced.
type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := ztcli.Tool(command(), append([]string{"ztdump"}, args...), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

func basicDir(t *testing.T) string {
	t.Helper()
	return testutil.Path(t, "captures", "basic")
}

func TestDumpBasicAuthenticatesEverything(t *testing.T) {
	dir := basicDir(t)
	r := run(t, "--identities", dir, filepath.Join(dir, "basic.pcap"))
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "packets 452, fragments 115, authenticated 452, no_key 0, failed 0, other 42") {
		t.Errorf("summary line missing or wrong:\n%s", tail(r.stdout, 20))
	}
	if !strings.Contains(r.stdout, "ICMP echo request 10.147.20.") {
		t.Error("no inner ICMP summary in the text output")
	}
}

func TestDumpJSONSummaryIsLastLine(t *testing.T) {
	dir := basicDir(t)
	r := run(t, "--json", "--identities", dir, filepath.Join(dir, "basic.pcap"))
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	for i, l := range lines[:len(lines)-1] {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatalf("line %d is not JSON: %v", i+1, err)
		}
		if _, ok := obj["summary"]; ok {
			t.Fatalf("summary on line %d, not last", i+1)
		}
	}
	var last struct {
		Summary struct {
			Packets, Fragments, Authenticated, Failed, Other int
			NoKey                                            int `json:"no_key"`
			Verbs                                            map[string]int
		}
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	s := last.Summary
	if s.Packets != 452 || s.Fragments != 115 || s.Authenticated != 452 || s.NoKey != 0 || s.Failed != 0 || s.Other != 42 {
		t.Errorf("summary %+v", s)
	}
	if s.Verbs["FRAME"] != 243 || s.Verbs["HELLO"] != 21 {
		t.Errorf("verbs %v", s.Verbs)
	}
}

func TestDumpWithoutKeysCountsNoKey(t *testing.T) {
	r := run(t, "--json", filepath.Join(basicDir(t), "basic.pcap"))
	if r.code != 0 {
		t.Fatalf("exit %d: no key is not a failure; stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(tail(r.stdout, 1), `"no_key":452`) {
		t.Errorf("want every packet under no_key: %s", tail(r.stdout, 1))
	}
}

// A packet whose key we hold and whose MAC is wrong makes the exit code 1.
func TestDumpForgedPacketExits1(t *testing.T) {
	dir := basicDir(t)
	forged := filepath.Join(t.TempDir(), "forged.pcap")
	flipLastByteOfFirstPacket(t, filepath.Join(dir, "basic.pcap"), forged)
	r := run(t, "--identities", dir, forged)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "failed 1,") {
		t.Errorf("summary does not count the failure:\n%s", tail(r.stdout, 20))
	}
	if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.HasPrefix(r.stderr, "ztdump: ") {
		t.Errorf("stderr not one named line: %q", r.stderr)
	}
}

func TestDumpUnusableInputExits2(t *testing.T) {
	dir := basicDir(t)
	tmp := t.TempDir()
	notPcap := filepath.Join(tmp, "notes.pcap")
	if err := os.WriteFile(notPcap, []byte("this is not a capture\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badIDs := filepath.Join(tmp, "ids")
	if err := os.Mkdir(badIDs, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badIDs, "identity.secret"), []byte("0123456789:0:zzzz:yyyy\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyIDs := filepath.Join(tmp, "empty")
	if err := os.Mkdir(emptyIDs, 0o700); err != nil {
		t.Fatal(err)
	}
	pcap := filepath.Join(dir, "basic.pcap")
	for name, args := range map[string][]string{
		"missing file":    {filepath.Join(tmp, "nope.pcap")},
		"not a pcap":      {notPcap},
		"no file":         {},
		"bad identity":    {"--identities", badIDs, pcap},
		"no secrets":      {"--identities", emptyIDs, pcap},
		"missing ids dir": {"--identities", filepath.Join(tmp, "absent"), pcap},
		"bad port":        {"--port", "70000", pcap},
	} {
		r := run(t, args...)
		if r.code != 2 {
			t.Errorf("%s: exit %d, want 2 (stderr %q)", name, r.code, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("%s: printed output before failing: %q", name, tail(r.stdout, 3))
		}
		if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.HasPrefix(r.stderr, "ztdump: ") {
			t.Errorf("%s: stderr not one named line: %q", name, r.stderr)
		}
	}
}

// flipLastByteOfFirstPacket copies a capture, corrupting the first whole
// (unfragmented) ZeroTier packet on UDP 9993.
func flipLastByteOfFirstPacket(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := pcapgo.NewWriter(&out)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		t.Fatal(err)
	}
	done := false
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if !done {
			pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
			if udp, ok := pkt.Layer(layers.LayerTypeUDP).(*layers.UDP); ok && udp.DstPort == 9993 &&
				len(udp.Payload) > 28 && udp.Payload[13] != 0xff {
				end := bytes.Index(data, udp.Payload) + len(udp.Payload)
				data[end-1] ^= 0x01
				done = true
			}
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if !done {
		t.Fatal("no whole packet found to corrupt")
	}
	if err := os.WriteFile(to, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
