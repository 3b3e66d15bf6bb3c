package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// writeFile puts content in dir/name and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != content {
		t.Errorf("%s holds %q, want %q", path, b, content)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != mode {
		t.Errorf("%s has mode %v, want %v", path, st.Mode().Perm(), mode)
	}
}

// One real generation, end to end: the printed secret is a valid identity.
func TestGenerateReal(t *testing.T) {
	t.Parallel()
	r := run(t, "identity", "generate")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("generate = %d, stderr %q", r.code, r.stderr)
	}
	if !regexp.MustCompile(`^[0-9a-f]{10}:0:[0-9a-f]{128}:[0-9a-f]{128}$`).MatchString(r.stdout) {
		t.Fatalf("generate printed %q, want a secret identity without newline", r.stdout)
	}
	if v := run(t, "identity", "validate", r.stdout); v.code != 0 || v.stdout != r.stdout+" is a valid identity\n" {
		t.Errorf("validate of a generated identity = %d %q %q", v.code, v.stdout, v.stderr)
	}
}

func TestGenerateFiles(t *testing.T) {
	good, _, _ := vectors(t)
	fakeGenerate(t, good.Secret)
	dir := t.TempDir()
	secret, public := filepath.Join(dir, "identity.secret"), filepath.Join(dir, "identity.public")
	// An existing world-readable file must come out 0600 all the same.
	writeFile(t, dir, "identity.secret", "old")
	if err := os.Chmod(secret, 0o644); err != nil {
		t.Fatal(err)
	}

	r := run(t, "identity", "generate", secret, public)
	if r.code != 0 || r.stdout != secret+" written\n"+public+" written\n" || r.stderr != "" {
		t.Fatalf("generate = %d %q %q", r.code, r.stdout, r.stderr)
	}
	checkFile(t, secret, good.Secret, 0o600)
	checkFile(t, public, good.Public, 0o644)
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("generate left %d files in the directory, want 2 (no temporaries)", len(entries))
	}

	only := filepath.Join(dir, "only.secret")
	if r := run(t, "identity", "generate", only); r.code != 0 || r.stdout != only+" written\n" {
		t.Errorf("generate <secret> = %d %q %q", r.code, r.stdout, r.stderr)
	}
	checkFile(t, only, good.Secret, 0o600)
}

func TestGenerateVanity(t *testing.T) {
	good, _, generated := vectors(t) // addresses 8e4df28b72 and 171093a349
	fakeGenerate(t, good.Secret, generated.Secret)
	dir := t.TempDir()
	secret, public := filepath.Join(dir, "s"), filepath.Join(dir, "p")
	progress := regexp.MustCompile(`^vanity address: tried 8e4df28b72 looking for first (8 bits of 1700000000|12 bits of 1710000000)\n$`)

	for _, args := range [][]string{
		{"identity", "generate", "--vanity", "17"},
		{"identity", "generate", secret, public, "171"},
		{"identity", "generate", "--vanity=17", secret, public, "17"}, // the same prefix twice is fine
	} {
		r := run(t, args...)
		if r.code != 0 || !strings.HasSuffix(r.stderr, "vanity address: found 171093a349 !\n") {
			t.Errorf("ztgo %q = %d, stderr %q", args, r.code, r.stderr)
		}
		for line := range strings.Lines(strings.TrimSuffix(r.stderr, "vanity address: found 171093a349 !\n")) {
			if !progress.MatchString(line) {
				t.Errorf("ztgo %q: progress line %q", args, line)
			}
		}
	}
	if r := run(t, "identity", "generate", "--vanity", "17"); r.stdout != generated.Secret {
		t.Errorf("vanity generate printed %q, want %q", r.stdout, generated.Secret)
	}
	checkFile(t, secret, generated.Secret, 0o600)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good, bad, _ := vectors(t)
	dir := t.TempDir()
	tests := []struct {
		arg            string
		code           int
		stdout, stderr string
	}{
		{good.Secret, 0, good.Secret + " is a valid identity\n", ""},
		{good.Public, 0, good.Public + " is a valid identity\n", ""},
		{bad.Secret, 1, "", bad.Secret + " FAILED validation.\n"},
		{writeFile(t, dir, "good", good.Secret+"\n"), 0, dir + "/good is a valid identity\n", ""},
		{writeFile(t, dir, "bad", bad.Public), 1, "", dir + "/bad FAILED validation.\n"},
		{writeFile(t, dir, "empty", " \n"), 1, "", "ztgo identity validate: " + dir + "/empty: file is empty (want an identity.secret or identity.public file)\n"},
		{writeFile(t, dir, "junk", "hello"), 1, "", "ztgo identity validate: " + dir + "/junk: malformed identity: want address:0:public[:secret], got 1 fields\n"},
	}
	for _, tt := range tests {
		r := run(t, "identity", "validate", tt.arg)
		if r != (result{tt.code, tt.stdout, tt.stderr}) {
			t.Errorf("validate %.20s… = %d %q %q, want %d %q %q", tt.arg, r.code, r.stdout, r.stderr, tt.code, tt.stdout, tt.stderr)
		}
	}
}

func TestPublic(t *testing.T) {
	t.Parallel()
	good, _, _ := vectors(t)
	file := writeFile(t, t.TempDir(), "identity.secret", good.Secret)
	for _, cmd := range []string{"public", "getpublic"} {
		for _, arg := range []string{file, good.Secret, good.Public} {
			if r := run(t, "identity", cmd, arg); r != (result{0, good.Public, ""}) {
				t.Errorf("%s %.20s… = %d %q %q, want the public string", cmd, arg, r.code, r.stdout, r.stderr)
			}
		}
	}
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	good, _, generated := vectors(t)
	dir := t.TempDir()
	secret := writeFile(t, dir, "identity.secret", good.Secret)
	public := writeFile(t, dir, "identity.public", good.Public)
	data := writeFile(t, dir, "data", "the message")

	s := run(t, "identity", "sign", secret, data)
	if s.code != 0 || s.stderr != "" || !regexp.MustCompile(`^[0-9a-f]{192}$`).MatchString(s.stdout) {
		t.Fatalf("sign = %d %q %q, want 192 hex digits without newline", s.code, s.stdout, s.stderr)
	}
	sigFile := writeFile(t, dir, "sig", s.stdout+"\n")

	valid := result{0, data + " signature valid\n", ""}
	for _, args := range [][]string{
		{public, data, s.stdout},
		{public, data, sigFile},
		{good.Public, data, strings.ToUpper(s.stdout)},
		{secret, data, sigFile},
	} {
		if r := run(t, append([]string{"identity", "verify"}, args...)...); r != valid {
			t.Errorf("verify %q = %d %q %q", args, r.code, r.stdout, r.stderr)
		}
	}

	failed := result{1, "", data + " signature check FAILED\n"}
	writeFile(t, dir, "data", "the massage")
	if r := run(t, "identity", "verify", public, data, sigFile); r != failed {
		t.Errorf("verify of a tampered file = %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := run(t, "identity", "verify", generated.Public, data, sigFile); r != failed {
		t.Errorf("verify with another identity = %d %q %q", r.code, r.stdout, r.stderr)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"sign", public, data}, "ztgo identity sign: " + public + ": identity has no secret key (use the identity.secret file)"},
		{[]string{"sign", good.Public, data}, "ztgo identity sign: literal identity 8e4df28b72: identity has no secret key (use the identity.secret file)"},
		{[]string{"sign", secret, dir + "/nope"}, "ztgo identity sign: " + dir + "/nope: no such file or directory"},
		{[]string{"verify", public, data, "abcd"}, "ztgo identity verify: signature has 4 hex digits, want 192"},
		{[]string{"verify", public, data, dir + "/nope"}, "ztgo identity verify: " + dir + "/nope: not a hex signature nor a readable file (no such file or directory)"},
		{[]string{"verify", public, data, data}, "ztgo identity verify: " + data + ": file must hold a signature of 192 hex digits (as printed by sign)"},
	} {
		if r := run(t, append([]string{"identity"}, tt.args...)...); r != (result{1, "", tt.want + "\n"}) {
			t.Errorf("%q = %d %q %q\nwant stderr %s", tt.args, r.code, r.stdout, r.stderr, tt.want)
		}
	}
}

// An <identity> is a literal if longer than 32 characters with ':' at
// index 10, otherwise a file name — even when it looks like an identity.
func TestIdentityArgumentRule(t *testing.T) {
	// Not parallel: t.Chdir.
	good, _, _ := vectors(t)
	tests := []struct {
		arg     string
		literal bool
	}{
		{good.Public, true},
		{"8e4df28b72:" + strings.Repeat("x", 22), true}, // 33 characters
		{"8e4df28b72:" + strings.Repeat("x", 21), false},
		{"8e4df28b72" + strings.Repeat(":", 30), true},
		{"/var/lib/zerotier-one/identity.secret", false},
		{"short:name", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isLiteralIdentity(tt.arg); got != tt.literal {
			t.Errorf("isLiteralIdentity(%q) = %v", tt.arg, got)
		}
	}

	// A file whose name passes for a literal identity is never read as one.
	dir := t.TempDir()
	t.Chdir(dir)
	name := "8e4df28b72:" + strings.Repeat("x", 22)
	writeFile(t, dir, name, good.Public)
	want := "ztgo identity public: literal identity 8e4df28b72: malformed identity: want address:0:public[:secret], got 2 fields\n"
	if r := run(t, "identity", "public", name); r != (result{1, "", want}) {
		t.Errorf("public %q = %d %q %q", name, r.code, r.stdout, r.stderr)
	}
	short := "8e4df28b72:0"
	writeFile(t, dir, short, good.Public)
	if r := run(t, "identity", "public", short); r != (result{0, good.Public, ""}) {
		t.Errorf("public %q = %d %q %q, want the file read", short, r.code, r.stdout, r.stderr)
	}
}
