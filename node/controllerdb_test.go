package node

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ztgo/ztgo/internal/pgtest"
)

// TestControllerOnPostgres: local.conf's controllerDbPath "postgres:…"
// puts the controller on PostgreSQL (no controller.d), and its networks
// survive a restart.
func TestControllerOnPostgres(t *testing.T) {
	conn := pgtest.Start(t).NewDatabase(t)
	home := privateHome(t, rootSecret(t))
	conf, _ := json.Marshal(map[string]any{"settings": map[string]any{"controllerDbPath": "postgres:" + conn}})
	os.WriteFile(filepath.Join(home, "local.conf"), conf, 0o644)
	n, stop := start(t, home)
	code, body := post(t, n, "POST", "/controller/network/cbf31c2eda______", `{"name":"on postgres"}`)
	if code != 200 {
		t.Fatalf("create: %d %s", code, body)
	}
	var netw map[string]any
	json.Unmarshal([]byte(body), &netw)
	id := netw["id"].(string)
	stop()
	if _, err := os.Stat(filepath.Join(home, "controller.d")); !os.IsNotExist(err) {
		t.Fatalf("controller.d made: %v", err)
	}
	n, stop = start(t, home)
	defer stop()
	if code, body := post(t, n, "GET", "/controller/network/"+id, ""); code != 200 || !strings.Contains(body, `"on postgres"`) {
		t.Fatalf("after a restart: %d %s", code, body)
	}
}
