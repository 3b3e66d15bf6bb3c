package cli

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ztgo/ztgo/layer1-vl1/world"
)

const rootIdentityPublic = "cbf31c2eda:0:fda53a8e2afb27fe989a867a81a6973341ccda29d581d9c8c4afcf16d7aeff4c534e0ea3011e3ba8905b04fd848d7ac092b99d0df4c912976fb6a08291bb256f"

func TestWorldCreateAndShow(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "planet.json", `{"worldType":"planet","id":"5a7e57e2e","roots":[{"identity":"`+rootIdentityPublic+`","stableEndpoints":["198.18.1.2/9993"]}]}`)
	key := filepath.Join(dir, "planet.key")
	out := filepath.Join(dir, "planet")
	r := run(t, "world", "create", spec, "--key", key, "-o", out, "--timestamp", "1700000000000")
	if r.code != 0 || !strings.Contains(r.stdout, "wrote "+out) {
		t.Fatalf("%+v", r)
	}
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 || st.Size() != 128 {
		t.Fatalf("key file: %v %v", err, st)
	}
	b, _ := os.ReadFile(out)
	w, n, err := world.Decode(b)
	if err != nil || n != len(b) || !w.VerifySelf() || w.ID != 0x5a7e57e2e || w.Timestamp != 1700000000000 || len(w.Roots) != 1 {
		t.Fatalf("world: %v %+v", err, w)
	}
	// The same key signs the next update, which the first accepts.
	r = run(t, "world", "create", spec, "--key", key, "-o", out+"2", "--timestamp", "1700000000001")
	b2, _ := os.ReadFile(out + "2")
	w2, _, _ := world.Decode(b2)
	if r.code != 0 || w2 == nil || !w.ShouldBeReplacedBy(w2) {
		t.Fatalf("update not accepted: %+v", r)
	}
	r = run(t, "world", "show", out)
	if r.code != 0 || !strings.Contains(r.stdout, "cbf31c2eda  198.18.1.2/9993") || !strings.Contains(r.stdout, "signature:  OK") {
		t.Fatalf("%+v", r)
	}
	r = run(t, "world", "show", "-j", out)
	if r.code != 0 || !strings.Contains(r.stdout, `"signatureValid": true`) || !strings.Contains(r.stdout, `"worldType": "planet"`) {
		t.Fatalf("%+v", r)
	}
}

func TestWorldErrors(t *testing.T) {
	dir := t.TempDir()
	noKey := writeFile(t, dir, "nokey.json", `{"worldType":"moon","id":"cbf31c2eda","roots":[{"identity":"`+rootIdentityPublic+`","stableEndpoints":[]}]}`)
	badType := writeFile(t, dir, "bad.json", `{"worldType":"star","id":"1","roots":[]}`)
	garbage := writeFile(t, dir, "garbage", "not a world")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"world", "create", noKey}, "no signing key"},
		{[]string{"world", "create", badType, "--key", filepath.Join(dir, "k")}, "worldType"},
		{[]string{"world", "create", filepath.Join(dir, "missing.json")}, "missing.json"},
		{[]string{"world", "create"}, "want one JSON description"},
		{[]string{"world", "show", garbage}, "not a planet or moon"},
		{[]string{"world", "show"}, "want one planet or moon file"},
	} {
		r := run(t, c.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: %+v", c.args, r)
		}
	}
	// A moon with its key in the JSON (initmoon's format) needs no --key.
	kp, _ := world.GenerateKeyPair(strings.NewReader(strings.Repeat("k", 64)))
	withKey := writeFile(t, dir, "moon.json", `{"worldType":"moon","id":"cbf31c2eda","signingKey":"`+hex.EncodeToString(kp.Public[:])+`","signingKey_SECRET":"`+hex.EncodeToString(kp.Secret[:])+`","roots":[{"identity":"`+rootIdentityPublic+`","stableEndpoints":["198.18.1.2/9993"]}]}`)
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	if r := run(t, "world", "create", withKey); r.code != 0 || !strings.Contains(r.stdout, "000000cbf31c2eda.moon") {
		t.Fatalf("%+v", r)
	}
}

func TestRulesCompile(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "rules.txt", "drop not ethertype ipv4 and not ethertype arp;\ncap ssh id 7 accept ipprotocol tcp and dport 22;\naccept;\n")
	r := run(t, "controller", "rules", "compile", good)
	if r.code != 0 || !strings.Contains(r.stdout, `"type": "MATCH_ETHERTYPE"`) || !strings.Contains(r.stdout, `"id": 7`) {
		t.Fatalf("%+v", r)
	}
	bad := writeFile(t, dir, "bad.txt", "accept;\ndrop frobnicate 3;\n")
	r = run(t, "controller", "rules", "compile", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "bad.txt:2") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("%+v", r)
	}
}
