// Package pgtest runs a private PostgreSQL server for tests: initdb in a
// temporary directory, postgres listening only on a unix socket there, as
// an unprivileged user when the tests run as root (postgres refuses
// root), stopped when the test ends.
//
// Without PostgreSQL (initdb and postgres on PATH or under
// /usr/lib/postgresql/<version>/bin) tests skip, unless ZTGO_E2E=1 (CI),
// which makes them fail.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Required reports whether CI demands the PostgreSQL tests.
func Required() bool { return os.Getenv("ZTGO_E2E") == "1" }

// Server is a running private PostgreSQL.
type Server struct {
	sockDir string
	port    int
	dbs     atomic.Int32
}

func skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("ZTGO_E2E=1 but %s", msg)
	}
	t.Skipf("skipping PostgreSQL test: %s (install postgresql; CI sets ZTGO_E2E=1)", msg)
}

// binDir finds the directory holding initdb and postgres.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dir = filepath.Dir(real)
			if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
				return dir, nil
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // the newest first (lexically: fine from 10 to 99)
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("initdb not found")
}

// Start runs a server for the test t; it stops when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := binDir()
	if err != nil {
		skip(t, "%v", err)
	}
	cred, err := credential()
	if err != nil {
		skip(t, "%v", err)
	}
	// Not t.TempDir: its parent is closed to other users.
	dir, err := os.MkdirTemp("", "ztgo-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := chown(dir, cred); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = sysProcAttr(cred)
	initdb.Dir = dir
	initdb.Env = append(os.Environ(), "HOME="+dir)
	if out, err := initdb.CombinedOutput(); err != nil {
		skip(t, "initdb failed: %v\n%s", err, out)
	}
	s := &Server{sockDir: dir, port: 5432}
	var logFile *os.File
	if logFile, err = os.Create(filepath.Join(dir, "postgres.log")); err != nil {
		t.Fatal(err)
	}
	pg := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-p", fmt.Sprint(s.port),
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=100", "-c", "shared_buffers=16MB")
	pg.SysProcAttr = sysProcAttr(cred)
	pg.Dir = dir
	pg.Stdout, pg.Stderr = logFile, logFile
	pg.Env = append(os.Environ(), "HOME="+dir)
	if err := pg.Start(); err != nil {
		logFile.Close()
		skip(t, "cannot start postgres: %v", err)
	}
	exited := make(chan struct{})
	go func() { pg.Wait(); close(exited) }()
	t.Cleanup(func() {
		// Only the server started here, by its PID: a fast shutdown, then
		// a kill if it hangs.
		_ = pg.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = pg.Process.Kill()
			<-exited
		}
		logFile.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(context.Background(), s.ConnString("postgres"))
		if err == nil {
			conn.Close(context.Background())
			break
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			t.Fatalf("postgres exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
			t.Fatalf("postgres not ready: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// ConnString is the libpq connection string of database db.
func (s *Server) ConnString(db string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", s.sockDir, s.port, db)
}

// NewDatabase creates an empty database and returns its connection string.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test%d", s.dbs.Add(1))
	conn, err := pgx.Connect(context.Background(), s.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return s.ConnString(name)
}
