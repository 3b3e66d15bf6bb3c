package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServiceInstall: the unit runs ztgo as zerotier-one runs on a server;
// --write puts it where --path says (systemctl is never run).
func TestServiceInstall(t *testing.T) {
	r := run(t, "service", "install", "--bin", "/usr/local/bin/ztgo")
	for _, want := range []string{
		"[Unit]\n", "After=network-online.target", "Wants=network-online.target", "Conflicts=zerotier-one.service",
		"\n[Service]\n", "ExecStart=/usr/local/bin/ztgo run /var/lib/zerotier-one\n", "Restart=on-failure\n",
		"AmbientCapabilities=CAP_NET_ADMIN", "DeviceAllow=/dev/net/tun rw", "ReadWritePaths=-/var/lib/zerotier-one\n",
		"\n[Install]\nWantedBy=multi-user.target\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("unit lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("%+v", r)
	}
	if !strings.Contains(run(t, "service", "install").stdout, "ExecStart=/") {
		t.Error("the unit does not run this program by default")
	}

	path := filepath.Join(t.TempDir(), "ztgo.service")
	r = run(t, "service", "install", "--write", "--path", path, "--bin", "/usr/sbin/ztgo", "--home", "/srv/zt")
	b, err := os.ReadFile(path)
	if r.code != 0 || err != nil || !strings.Contains(string(b), "ExecStart=/usr/sbin/ztgo run /srv/zt\n") ||
		!strings.Contains(r.stdout, "wrote "+path+"; now run: systemctl daemon-reload && systemctl enable --now ztgo") {
		t.Fatalf("%+v %v\n%s", r, err, b)
	}
	for _, args := range [][]string{{"--home", "relative"}, {"--bin", "/a b/ztgo"}, {"extra"}} {
		if r := run(t, append([]string{"service", "install"}, args...)...); r.code != 2 {
			t.Errorf("%q: %+v", args, r)
		}
	}
	if r := run(t, "service", "install", "--write", "--path", filepath.Join(t.TempDir(), "no", "such", "dir")); r.code != 1 {
		t.Errorf("unwritable path: %+v", r)
	}
}
