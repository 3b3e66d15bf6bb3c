package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ztgo/ztgo/internal/atomicfile"
)

// fileStore is ZeroTierOne's controller.d layout (controller.md §8.11), so
// an existing controller directory can be adopted:
//
//	network/<nwid>.json
//	network/<nwid>/member/<addr>.json
//
// With no directory it keeps the records in memory. It serves one
// process: the controller calls it under its lock.
type fileStore struct {
	dir string
	log *slog.Logger
	mem map[string][]byte // dir == "": file contents by relative path
}

// OpenFiles opens (or creates) a controller.d directory; "" keeps the
// records in memory only.
func OpenFiles(dir string, log *slog.Logger) (Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &fileStore{dir: dir, log: log}
	if dir == "" {
		s.mem = map[string][]byte{}
		return s, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "network"), 0o700); err != nil {
		return nil, fmt.Errorf("controller database: %w", err)
	}
	_ = os.Chmod(dir, 0o700)
	return s, nil
}

func networkPath(nwid string) string { return filepath.Join("network", nwid+".json") }
func memberPath(nwid, addr string) string {
	return filepath.Join("network", nwid, "member", addr+".json")
}

// Load reads controller.d. A file that cannot be read is logged and moved
// aside (…json.damaged-<unix time>), never silently skipped: otherwise the
// member's next request would write a fresh record over its authorization,
// addresses and tags, and the damaged bytes would be lost to the operator.
// Like ZeroTierOne, it loads every network in the directory.
func (s *fileStore) Load(ctx context.Context, ctl string) (map[string]record, map[string]map[string]record, error) {
	networks, members := map[string]record{}, map[string]map[string]record{}
	if s.dir == "" {
		for p, b := range s.mem {
			r, _ := decodeRecord(b)
			parts := strings.Split(p, string(filepath.Separator))
			switch len(parts) {
			case 2:
				networks[strings.TrimSuffix(parts[1], ".json")] = r
			case 4:
				nwid := parts[1]
				if members[nwid] == nil {
					members[nwid] = map[string]record{}
				}
				members[nwid][strings.TrimSuffix(parts[3], ".json")] = r
			}
		}
		return networks, members, nil
	}
	ents, err := os.ReadDir(filepath.Join(s.dir, "network"))
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		name := e.Name()
		if len(name) != 21 || !strings.HasSuffix(name, ".json") {
			continue
		}
		r, err := s.read(filepath.Join("network", name))
		if err != nil {
			setAside(s.log, filepath.Join(s.dir, "network", name), err)
			continue
		}
		id, _ := r["id"].(string)
		if len(id) != 16 {
			continue
		}
		id = strings.ToLower(id)
		networks[id] = r
		members[id] = map[string]record{}
		mdir := filepath.Join(s.dir, "network", id, "member")
		ments, _ := os.ReadDir(mdir)
		for _, me := range ments {
			if len(me.Name()) != 15 || !strings.HasSuffix(me.Name(), ".json") {
				continue
			}
			m, err := s.read(filepath.Join("network", id, "member", me.Name()))
			if err != nil {
				setAside(s.log, filepath.Join(mdir, me.Name()), err)
				continue
			}
			if mid, _ := m["id"].(string); len(mid) == 10 {
				members[id][strings.ToLower(mid)] = m
			}
		}
	}
	return networks, members, nil
}

func setAside(log *slog.Logger, path string, err error) {
	aside := fmt.Sprintf("%s.damaged-%d", path, time.Now().Unix())
	if rerr := os.Rename(path, aside); rerr != nil {
		log.Error("controller database: unreadable file left in place; the network or member it holds is not served", "file", path, "err", err, "rename", rerr)
		return
	}
	log.Error("controller database: unreadable file moved aside; restore it to serve that network or member again", "file", path, "moved_to", aside, "err", err)
}

// read returns the record at rel, nil if there is none.
func (s *fileStore) read(rel string) (record, error) {
	var b []byte
	if s.dir == "" {
		b = s.mem[rel]
	} else {
		var err error
		b, err = os.ReadFile(filepath.Join(s.dir, rel))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	if b == nil {
		return nil, nil
	}
	return decodeRecord(b)
}

func (s *fileStore) write(rel string, r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if s.dir == "" {
		s.mem[rel] = b
		return nil
	}
	path := filepath.Join(s.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o600)
}

func (s *fileStore) update(rel string, fn func(cur record) record) (record, record, error) {
	cur, err := s.read(rel)
	if err != nil {
		// A record damaged since Load is not written over blindly.
		return nil, nil, err
	}
	next := fn(cur)
	if next == nil {
		return cur, nil, nil
	}
	if err := s.write(rel, next); err != nil {
		return cur, nil, err
	}
	return cur, next, nil
}

func (s *fileStore) UpdateNetwork(ctx context.Context, nwid string, fn func(cur record) record) (record, record, error) {
	return s.update(networkPath(nwid), fn)
}

func (s *fileStore) UpdateMember(ctx context.Context, nwid, addr string, fn func(cur record) record) (record, record, error) {
	return s.update(memberPath(nwid, addr), fn)
}

func (s *fileStore) DeleteNetwork(ctx context.Context, nwid string) error {
	if s.dir == "" {
		prefix := filepath.Join("network", nwid) + string(filepath.Separator)
		for p := range s.mem {
			if strings.HasPrefix(p, prefix) {
				delete(s.mem, p)
			}
		}
		delete(s.mem, networkPath(nwid))
		return nil
	}
	if err := os.Remove(filepath.Join(s.dir, networkPath(nwid))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(filepath.Join(s.dir, "network", nwid))
}

func (s *fileStore) DeleteMember(ctx context.Context, nwid, addr string) error {
	if s.dir == "" {
		delete(s.mem, memberPath(nwid, addr))
		return nil
	}
	err := os.Remove(filepath.Join(s.dir, memberPath(nwid, addr)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (s *fileStore) Get(ctx context.Context, nwid, addr string) (record, error) {
	if addr == "" {
		return s.read(networkPath(nwid))
	}
	return s.read(memberPath(nwid, addr))
}

// Watch reports nothing: only this process writes controller.d.
func (s *fileStore) Watch(ctl string, fn func(Change)) {}

func (s *fileStore) Close() error { return nil }
