package cli

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestPersonalityArgs(t *testing.T) {
	t.Setenv("ZTGO_HOME", "")
	zh := zeroTierHome()
	for _, c := range []struct{ in, want []string }{
		{[]string{"/usr/sbin/zerotier-cli", "-j", "-D/var/lib/zt", "listnetworks"}, []string{"/usr/sbin/zerotier-cli", "listnetworks", "-j", "-D", "/var/lib/zt"}},
		{[]string{"zerotier-cli", "-p9994", "-Tsecret", "join", "8056c2e21c000001"}, []string{"zerotier-cli", "join", "-p", "9994", "-T", "secret", "-D", zh, "--", "8056c2e21c000001"}},
		{[]string{"zerotier-cli", "listnetworks", "-j"}, []string{"zerotier-cli", "listnetworks", "-j", "-D", zh}},
		{[]string{"zerotier-cli", "status"}, []string{"zerotier-cli", "info", "-D", zh}},
		{[]string{"zerotier-cli", "dump"}, []string{"zerotier-cli", "dump", "-D", zh}},
		{[]string{"zerotier-cli", "bogus", "x"}, []string{"zerotier-cli", "zerotier-cli-usage", "-D", zh}},
		{[]string{"zerotier-cli"}, []string{"zerotier-cli", "zerotier-cli-usage", "-D", zh}},
		{[]string{"zerotier-cli", "/status"}, []string{"zerotier-cli", "api", "/status", "-D", zh}},
		{[]string{"zerotier-idtool", "getpublic", "id.secret"}, []string{"zerotier-idtool", "identity", "public", "id.secret"}},
		{[]string{"zerotier-idtool", "genmoon", "moon.json"}, []string{"zerotier-idtool", "world", "create", "moon.json"}},
		{[]string{"zerotier-one", "-p9993", "/var/lib/zt"}, []string{"zerotier-one", "run", "-p", "9993", "--", "/var/lib/zt"}},
		{[]string{"zerotier-one", "-d", "-U"}, []string{"zerotier-one", "run", "-d", "-U", "--", zh}},
		{[]string{"zerotier-one", "-i", "getpublic", "id.secret"}, []string{"zerotier-one", "identity", "public", "id.secret"}},
		{[]string{"zerotier-one", "-q", "-j", "info"}, []string{"zerotier-one", "info", "-j", "-D", zh}},
		{[]string{"ztgo", "info"}, []string{"ztgo", "info"}},
	} {
		if got := personality(c.in); got.done || !slices.Equal(got.args, c.want) {
			t.Errorf("%q: got %q, want %q", c.in, got.args, c.want)
		}
	}
}

// TestPersonalityAnswers covers what the personalities answer themselves,
// with zerotier-cli's and zerotier-one's exit codes.
func TestPersonalityAnswers(t *testing.T) {
	for _, c := range []struct {
		args   []string
		code   int
		stdout string
	}{
		{[]string{"zerotier-cli", "-v"}, 0, "1.14.1\n"},
		{[]string{"zerotier-cli", "-h"}, 0, "Usage: zerotier-cli [-switches] <command/path>"},
		{[]string{"zerotier-cli", "-x", "info"}, 0, "Available commands:"},
		{[]string{"zerotier-cli", "-jx", "info"}, 1, "Usage: zerotier-cli"},
		{[]string{"zerotier-cli", "-p0", "info"}, 1, "Usage: zerotier-cli"},
		{[]string{"zerotier-cli", "-p70000", "info"}, 1, "Usage: zerotier-cli"},
		{[]string{"zerotier-cli", "-D", "info"}, 1, "Usage: zerotier-cli"},
		{[]string{"zerotier-one", "-v"}, 0, "1.14.1\n"},
		{[]string{"zerotier-one", "-h"}, 0, "Usage: zerotier-one [-switches] [home directory]"},
		{[]string{"zerotier-one", "a", "b"}, 0, "-d                - Fork and run as daemon"},
		{[]string{"zerotier-one", "-p70000"}, 1, "Usage: zerotier-one"},
		{[]string{"zerotier-one", "-ix"}, 0, "Usage: zerotier-one"},
		{[]string{"zerotier-one", "-q", "-v"}, 0, "1.14.1\n"},
	} {
		r := runAs(t, c.args[0], c.args[1:]...)
		if r.code != c.code || !strings.Contains(r.stdout, c.stdout) || r.stderr != "" {
			t.Errorf("%q: %+v, want exit %d and %q on stdout", c.args, r, c.code, c.stdout)
		}
	}
}

// TestZerotierCLIReplies checks that error replies go to stdout exactly as
// zerotier-cli prints them, with its exit codes.
func TestZerotierCLIReplies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "{}")
	}))
	defer srv.Close()
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	dead := strconv.Itoa(freeUDPPort(t))
	const noService = "Error connecting to the ZeroTier service: connection failed\n\n" +
		"Please check that the service is running and that TCP port 9993 can be contacted via 127.0.0.1.\n"
	dir := t.TempDir()
	for _, c := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"-p" + port, "-Tx", "info"}, 1, "401 info {}\n", ""},
		{[]string{"-p" + port, "-Tx", "-j", "listnetworks"}, 1, "401 listnetworks {}\n", ""},
		{[]string{"-p" + port, "-Tx", "join", "8056c2e21c000001"}, 1, "401 join {}\n", ""},
		{[]string{"-p" + port, "-Tx", "/status"}, 1, "401 /status {}\n", ""},
		{[]string{"-p" + port, "-Tx", "bogus"}, 0, "", "Usage: zerotier-cli [-switches]"},
		{[]string{"-p" + dead, "-Tx", "info"}, 1, noService, ""},
		{[]string{"-p" + dead, "-Tx", "peers"}, 1, noService, ""},
		{[]string{"-p" + dead, "-Tx", "dump"}, 1, noService, ""},
		{[]string{"-p" + dead, "-Tx", "leave", "8056c2e21c000001"}, 1, "0 leave connection failed\n", ""},
		{[]string{"-D" + dir, "info"}, 2, "", "zerotier-cli: missing port and zerotier-one.port not found in " + dir + "\n"},
		{[]string{"-D" + dir, "bogus"}, 2, "", "zerotier-cli: missing port and zerotier-one.port not found in " + dir + "\n"},
		{[]string{"-D" + dir, "-p" + port, "info"}, 2, "", "zerotier-cli: authtoken.secret not found or readable in " + dir + " (try again as root)\n"},
	} {
		t.Setenv("HOME", dir)
		r := runAs(t, "zerotier-cli", c.args...)
		if r.code != c.code || !strings.HasPrefix(r.stdout, c.stdout) || (c.stdout == "" && r.stdout != "") || !strings.Contains(r.stderr, c.stderr) || (c.stderr == "" && r.stderr != "") {
			t.Errorf("%q: %+v\nwant exit %d, stdout %q, stderr %q", c.args, r, c.code, c.stdout, c.stderr)
		}
	}
}

// TestZerotierCLIDump writes zerotier_dump.txt in the current directory
// from a fake service.
func TestZerotierCLIDump(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-ZT1-Auth") != "tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	defer srv.Close()
	home, wd := t.TempDir(), t.TempDir()
	writeFile(t, home, "zerotier-one.port", strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port))
	writeFile(t, home, "authtoken.secret", "tok")
	writeFile(t, home, "local.conf", `{"settings":{}}`)
	t.Chdir(wd)
	r := runAs(t, "zerotier-cli", "-D"+home, "dump")
	path := filepath.Join(wd, "zerotier_dump.txt")
	if r.code != 0 || r.stdout != "Writing dump to: "+path+"\n" || r.stderr != "" {
		t.Fatalf("%+v", r)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"platform: ", "zerotier version: 1.14.1\n\n",
		"status\n------\n{\"path\":\"/status\"}\n",
		"\nnetworks\n--------\n{\"path\":\"/network\"}\n",
		"\npeers\n-----\n{\"path\":\"/peer\"}\n",
		"\nlocal.conf\n----------\n{\"settings\":{}}\n",
		"\nNetwork Interfaces\n------------------\n\n",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("dump lacks %q:\n%s", want, b)
		}
	}
	// The native command is the same.
	os.Remove(path)
	if r := run(t, "dump", "-D", home); r.code != 0 || !fileExists(path) {
		t.Fatalf("ztgo dump: %+v", r)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestGlobalFlagsAnywhere: ztgo's API flags may come before the command.
func TestGlobalFlagsAnywhere(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"-j", "-D", dir, "info"}, {"-D", dir, "info", "-j"}, {"info", "-j", "-D", dir}, {"-D=" + dir, "-j", "listnetworks"}} {
		r := run(t, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "zerotier-one.port not found in "+dir) {
			t.Errorf("%q: %+v", args, r)
		}
	}
	root := New()
	for _, c := range []struct{ in, want []string }{
		{[]string{"ztgo", "-j", "info"}, []string{"ztgo", "info", "-j"}},
		{[]string{"ztgo", "-D", "d", "-p", "1", "join", "x"}, []string{"ztgo", "join", "-D", "d", "-p", "1", "x"}},
		{[]string{"ztgo", "-p", "9993", "run"}, []string{"ztgo", "run", "-p", "9993"}},
		{[]string{"ztgo", "-j", "identity"}, []string{"ztgo", "-j", "identity"}}, // identity has no -j
		{[]string{"ztgo", "--version"}, []string{"ztgo", "--version"}},
	} {
		if got := hoistFlags(root, c.in); !slices.Equal(got, c.want) {
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

func TestWithoutDaemonFlag(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"zerotier-one", "-d", "-p9993"}, []string{"zerotier-one", "-p9993"}},
		{[]string{"ztgo", "run", "--d", "-p", "1", "--", "-d"}, []string{"ztgo", "run", "-p", "1", "--", "-d"}},
	} {
		if got := withoutDaemonFlag(c.in); !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}
