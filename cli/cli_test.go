package cli

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ztgo/ztgo/internal/testutil"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// result is what one in-process run of ztgo produced.
type result struct {
	code           int
	stdout, stderr string
}

// run runs ztgo with args as the process would, but in process.
func run(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(append([]string{"ztgo"}, args...), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// identityVector is one entry of testdata/vectors/identity.json.
type identityVector struct {
	Source string `json:"source"`
	Secret string `json:"string"`
	Public string `json:"public_string"`
	Addr   string `json:"address"`
	Valid  bool   `json:"valid"`
}

// vectors returns the known-good identity, the known-bad one (its address
// does not match its key) and the one 1.14.1 generated.
func vectors(t *testing.T) (good, bad, generated identityVector) {
	t.Helper()
	var v struct{ Identities []identityVector }
	testutil.Vectors(t, "identity.json", &v)
	for _, id := range v.Identities {
		switch {
		case id.Source == "generated":
			generated = id
		case id.Valid:
			good = id
		default:
			bad = id
		}
	}
	if good.Secret == "" || bad.Secret == "" || generated.Secret == "" {
		t.Fatal("identity.json lacks a good, bad or generated identity")
	}
	return good, bad, generated
}

// fakeGenerate makes generation return the given identities in turn, so
// tests skip the proof of work. Tests that call it must not be parallel.
func fakeGenerate(t *testing.T, secrets ...string) {
	t.Helper()
	ids := make([]*identity.Identity, len(secrets))
	for i, s := range secrets {
		id, err := identity.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	var n atomic.Uint64
	saved := generateIdentity
	generateIdentity = func() (*identity.Identity, error) {
		return ids[(n.Add(1)-1)%uint64(len(ids))], nil
	}
	t.Cleanup(func() { generateIdentity = saved })
}

func TestVersion(t *testing.T) {
	t.Parallel()
	r := run(t, "--version")
	want := "ztgo 0.1.0-dev (protocol 12, compatible with ZeroTier 1.14.1)\n"
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Errorf("--version = %d %q %q, want 0 %q", r.code, r.stdout, r.stderr, want)
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"--help"}, {"help"}} {
		r := run(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "ztgo — a ZeroTier-compatible peer-to-peer virtual Ethernet") ||
			!strings.Contains(r.stdout, "identity") {
			t.Errorf("ztgo %q = %d, stdout:\n%s", args, r.code, r.stdout)
		}
	}
	// idtool without a command prints help and fails.
	if r := run(t, "identity"); r.code != 1 || !strings.Contains(r.stdout, "generate") {
		t.Errorf("ztgo identity = %d, stdout:\n%s", r.code, r.stdout)
	}
}

// Every bad argument gets exactly one stderr line naming the command, and a
// failing exit.
func TestBadArgumentsOneLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		args []string
		code int
		want string // the whole line, or its start when it ends in "…"
	}{
		{[]string{"bogus"}, 2, `ztgo: unknown command "bogus" (run 'ztgo --help' for the list)`},
		{[]string{"--bogus"}, 2, "ztgo: flag provided but not defined: -bogus (run 'ztgo --help')"},
		{[]string{"help", "bogus"}, 3, "ztgo: No help topic for 'bogus'"},
		{[]string{"identity", "bogus"}, 1, `ztgo identity: unknown command "bogus" (want generate, validate, public, sign or verify)`},
		{[]string{"identity", "sign"}, 1, "ztgo identity sign: want 2 arguments, got 0 (usage: ztgo identity sign <identity.secret> <file>)"},
		{[]string{"identity", "sign", "a", "b", "c"}, 1, "ztgo identity sign: want 2 arguments, got 3 (usage: ztgo identity sign <identity.secret> <file>)"},
		{[]string{"identity", "validate"}, 1, "ztgo identity validate: want 1 argument, got 0 (usage: ztgo identity validate <identity>)"},
		{[]string{"identity", "public", "a", "b"}, 1, "ztgo identity public: want 1 argument, got 2 …"},
		{[]string{"identity", "verify", "a", "b"}, 1, "ztgo identity verify: want 3 arguments, got 2 …"},
		{[]string{"identity", "generate", "a", "b", "c", "d"}, 1, "ztgo identity generate: want 0 to 3 arguments, got 4 …"},
		{[]string{"identity", "generate", "--nope"}, 1, "ztgo identity generate: flag provided but not defined: -nope (run 'ztgo identity generate --help')"},
		{[]string{"identity", "generate", "--vanity", "xyz"}, 1, `ztgo identity generate: vanity prefix "xyz" is not hexadecimal (use digits 0-9 and a-f)`},
		{[]string{"identity", "generate", "--vanity", "ff0"}, 1, `ztgo identity generate: vanity prefix "ff0" can never match: that address range is reserved`},
		{[]string{"identity", "generate", "--vanity", "0000000000"}, 1, `ztgo identity generate: vanity prefix "0000000000" can never match:…`},
		{[]string{"identity", "generate", "--vanity", "12345678901"}, 1, `ztgo identity generate: vanity prefix "12345678901" has 11 digits; an address has only 10`},
		{[]string{"identity", "generate", "a", "b", "12", "--vanity", "34"}, 1, `ztgo identity generate: vanity prefix given twice ("12" and --vanity "34"): give one`},
		{[]string{"identity", "validate", dir + "/missing"}, 1, "ztgo identity validate: " + dir + "/missing: no such file or directory"},
		{[]string{"identity", "validate", dir}, 1, "ztgo identity validate: " + dir + ": is a directory"},
		{[]string{"identity", "generate", dir + "/no/such/dir"}, 1, "ztgo identity generate: cannot write " + dir + "/no/such/dir: no such file or directory"},
	}
	for _, tt := range tests {
		r := run(t, tt.args...)
		if r.code != tt.code || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
			t.Errorf("ztgo %q = %d, stdout %q, stderr %q; want exit %d and one stderr line", tt.args, r.code, r.stdout, r.stderr, tt.code)
			continue
		}
		line := strings.TrimSuffix(r.stderr, "\n")
		if prefix, ok := strings.CutSuffix(tt.want, "…"); ok && !strings.HasPrefix(line, prefix) || !ok && line != tt.want {
			t.Errorf("ztgo %q:\n got  %s\n want %s", tt.args, line, tt.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	if got := oneLine("a\nb\r\nc\n"); got != "a b c" {
		t.Errorf("oneLine = %q", got)
	}
}
