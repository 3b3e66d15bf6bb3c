package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPersonalityArgs(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"/usr/sbin/zerotier-cli", "-j", "-D/var/lib/zerotier-one", "listnetworks"}, []string{"/usr/sbin/zerotier-cli", "listnetworks", "-j", "-D", "/var/lib/zerotier-one"}},
		{[]string{"zerotier-cli", "-p9994", "-Tsecret", "join", "8056c2e21c000001"}, []string{"zerotier-cli", "join", "-p", "9994", "-T", "secret", "8056c2e21c000001"}},
		{[]string{"zerotier-cli", "status"}, []string{"zerotier-cli", "info"}},
		{[]string{"zerotier-cli", "/status"}, []string{"zerotier-cli", "api", "/status"}},
		{[]string{"zerotier-cli", "-v"}, []string{"zerotier-cli", "--version"}},
		{[]string{"zerotier-idtool", "getpublic", "id.secret"}, []string{"zerotier-idtool", "identity", "public", "id.secret"}},
		{[]string{"zerotier-idtool", "genmoon", "moon.json"}, []string{"zerotier-idtool", "world", "create", "moon.json"}},
		{[]string{"zerotier-one", "-p9993", "/var/lib/zt"}, []string{"zerotier-one", "run", "-p9993", "/var/lib/zt"}},
		{[]string{"ztgo", "info"}, []string{"ztgo", "info"}},
	} {
		if got := personality(c.in); !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

func TestIdtoolPersonalityInitAndGenMoon(t *testing.T) {
	dir := t.TempDir()
	pub := writeFile(t, dir, "identity.public", rootIdentityPublic)
	var r result
	r = runAs(t, "zerotier-idtool", "initmoon", pub)
	if r.code != 0 || !strings.Contains(r.stdout, `"worldType": "moon"`) {
		t.Fatalf("initmoon: %+v", r)
	}
	spec := writeFile(t, dir, "moon.json", r.stdout)
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	r = runAs(t, "zerotier-idtool", "genmoon", spec)
	if _, err := os.Stat(filepath.Join(dir, "000000cbf31c2eda.moon")); r.code != 0 || err != nil {
		t.Fatalf("genmoon: %+v %v", r, err)
	}
}

func runAs(t *testing.T, name string, args ...string) result {
	t.Helper()
	var stdout, stderr strings.Builder
	code := Main(append([]string{name}, args...), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}
