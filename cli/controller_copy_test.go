package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ztgo/ztgo/internal/pgtest"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer2-vl2/controller"
)

// TestControllerExportImport: a controller.d exported to PostgreSQL and
// imported into another home's controller.d (named by local.conf) comes
// back byte for byte.
func TestControllerExportImport(t *testing.T) {
	db := "postgres:" + pgtest.Start(t).NewDatabase(t)
	secret, _ := os.ReadFile("../testdata/captures/basic/root.identity.secret")
	id, _ := identity.Parse(string(secret))
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, "identity.secret"), secret, 0o600)
	c, err := controller.New(controller.Config{Identity: id, Dir: filepath.Join(home, "controller.d")})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := c.CreateNetwork(map[string]any{"name": "exported"})
	nwid := n["id"].(string)
	c.SetMember(nwid, "0123456789", map[string]any{"authorized": true})
	c.Close()

	if r := run(t, "controller", "export", "-D", home, db); r.code != 0 || !strings.Contains(r.stdout, "copied 1 networks and 1 members") {
		t.Fatalf("export: %+v", r)
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "identity.public"), []byte(id.String()), 0o644)
	os.WriteFile(filepath.Join(other, "local.conf"), []byte(`{"settings":{"controllerDbPath":"`+filepath.Join(other, "ctl")+`"}}`), 0o644)
	if r := run(t, "controller", "import", "-D", other, db); r.code != 0 || !strings.Contains(r.stdout, "copied 1 networks and 1 members") || strings.Contains(r.stdout, "host=") {
		t.Fatalf("import: %+v", r)
	}
	for _, rel := range []string{"network/" + nwid + ".json", "network/" + nwid + "/member/0123456789.json"} {
		a, _ := os.ReadFile(filepath.Join(home, "controller.d", rel))
		b, err := os.ReadFile(filepath.Join(other, "ctl", rel))
		if err != nil || len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("%s: %v\n%s\n%s", rel, err, a, b)
		}
	}
	if r := run(t, "controller", "export", "-D", home); r.code != 2 {
		t.Fatalf("export without a destination: %+v", r)
	}
}
