package controller

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ztgo/ztgo/internal/atomicfile"
)

// record is a network or member object exactly as stored: JSON with
// sorted keys (encoding/json sorts map keys, as nlohmann does).
type record = map[string]any

// fileDB is ZeroTierOne's controller.d layout (controller.md §8.11), so an
// existing controller directory can be adopted:
//
//	network/<nwid>.json
//	network/<nwid>/member/<addr>.json
type fileDB struct {
	dir      string
	networks map[string]record            // by 16-hex ID
	members  map[string]map[string]record // nwid -> addr -> member
	changes  dbChanges
}

// dbChanges count what saves and deletes did, for /metrics (1.14.1's
// controller_*_count series).
type dbChanges struct {
	networkChanges uint64 // an existing network changed
	memberChanges  uint64 // a member created, changed or deleted, its authorization kept
	memberAuths    uint64 // a member became authorized
	memberDeauths  uint64 // a member lost its authorization (deleted while authorized too)
}

func (c *dbChanges) member(old, next record) {
	was, is := old != nil && toBool(old["authorized"], false), next != nil && toBool(next["authorized"], false)
	switch {
	case !was && is:
		c.memberAuths++
	case was && !is:
		c.memberDeauths++
	default:
		c.memberChanges++
	}
}

// openDB reads controller.d. A file that cannot be read is logged and moved
// aside (…json.damaged-<unix time>), never silently skipped: otherwise the
// member's next request would write a fresh record over its authorization,
// addresses and tags, and the damaged bytes would be lost to the operator.
func openDB(dir string, log *slog.Logger) (*fileDB, error) {
	db := &fileDB{dir: dir, networks: map[string]record{}, members: map[string]map[string]record{}}
	if dir == "" {
		return db, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "network"), 0o700); err != nil {
		return nil, fmt.Errorf("controller database: %w", err)
	}
	_ = os.Chmod(dir, 0o700)
	ents, err := os.ReadDir(filepath.Join(dir, "network"))
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		name := e.Name()
		if len(name) != 21 || !strings.HasSuffix(name, ".json") {
			continue
		}
		r, err := readRecord(filepath.Join(dir, "network", name))
		if err != nil {
			setAside(log, filepath.Join(dir, "network", name), err)
			continue
		}
		id, _ := r["id"].(string)
		if len(id) != 16 {
			continue
		}
		id = strings.ToLower(id)
		db.networks[id] = r
		db.members[id] = map[string]record{}
		mdir := filepath.Join(dir, "network", id, "member")
		ments, _ := os.ReadDir(mdir)
		for _, me := range ments {
			if len(me.Name()) != 15 || !strings.HasSuffix(me.Name(), ".json") {
				continue
			}
			m, err := readRecord(filepath.Join(mdir, me.Name()))
			if err != nil {
				setAside(log, filepath.Join(mdir, me.Name()), err)
				continue
			}
			if mid, _ := m["id"].(string); len(mid) == 10 {
				db.members[id][strings.ToLower(mid)] = m
			}
		}
	}
	return db, nil
}

func setAside(log *slog.Logger, path string, err error) {
	aside := fmt.Sprintf("%s.damaged-%d", path, time.Now().Unix())
	if rerr := os.Rename(path, aside); rerr != nil {
		log.Error("controller database: unreadable file left in place; the network or member it holds is not served", "file", path, "err", err, "rename", rerr)
		return
	}
	log.Error("controller database: unreadable file moved aside; restore it to serve that network or member again", "file", path, "moved_to", aside, "err", err)
}

func readRecord(path string) (record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r record
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		return nil, err
	}
	return normalize(r).(record), nil
}

// normalize turns json.Number into int64 or float64 so records compare
// and marshal consistently.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	case float64:
		if x == float64(int64(x)) {
			return int64(x)
		}
	case int:
		return int64(x)
	}
	return v
}

// clone deep-copies a record through JSON.
func clone(r record) record {
	b, _ := json.Marshal(r)
	var out record
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	_ = d.Decode(&out)
	return normalize(out).(record)
}

// changed reports whether two records differ in anything but revision.
func changed(old, next record) bool {
	if old == nil {
		return true
	}
	a, b := maps.Clone(old), maps.Clone(next)
	delete(a, "revision")
	delete(b, "revision")
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return !reflect.DeepEqual(ja, jb)
}

func (db *fileDB) write(path string, r record) error {
	if db.dir == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o600)
}

// saveNetwork stores a network if it changed, bumping its revision.
func (db *fileDB) saveNetwork(id string, r record) (bool, error) {
	old := db.networks[id]
	if !changed(old, r) {
		return false, nil
	}
	r["revision"] = revisionOf(old) + 1
	if err := db.write(filepath.Join(db.dir, "network", id+".json"), r); err != nil {
		return false, err
	}
	if old != nil {
		db.changes.networkChanges++
	}
	db.networks[id] = r
	if db.members[id] == nil {
		db.members[id] = map[string]record{}
	}
	return true, nil
}

func (db *fileDB) saveMember(nwid, addr string, r record) (bool, error) {
	old := db.members[nwid][addr]
	if !changed(old, r) {
		return false, nil
	}
	r["revision"] = revisionOf(old) + 1
	if err := db.write(filepath.Join(db.dir, "network", nwid, "member", addr+".json"), r); err != nil {
		return false, err
	}
	if db.members[nwid] == nil {
		db.members[nwid] = map[string]record{}
	}
	db.members[nwid][addr] = r
	db.changes.member(old, r)
	return true, nil
}

func revisionOf(r record) int64 {
	if r == nil {
		return 0
	}
	return toInt(r["revision"])
}

func (db *fileDB) deleteNetwork(id string) error {
	delete(db.networks, id)
	delete(db.members, id)
	if db.dir == "" {
		return nil
	}
	if err := os.Remove(filepath.Join(db.dir, "network", id+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(filepath.Join(db.dir, "network", id))
}

func (db *fileDB) deleteMember(nwid, addr string) error {
	if old := db.members[nwid][addr]; old != nil {
		db.changes.member(old, nil)
	}
	delete(db.members[nwid], addr)
	if db.dir == "" {
		return nil
	}
	err := os.Remove(filepath.Join(db.dir, "network", nwid, "member", addr+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (db *fileDB) networkIDs() []string {
	ids := make([]string, 0, len(db.networks))
	for id := range db.networks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// toInt reads a JSON number leniently (numbers, decimal strings, booleans).
func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case float64:
		return int64(x)
	case json.Number:
		i, _ := x.Int64()
		return i
	case bool:
		if x {
			return 1
		}
	case string:
		var i int64
		fmt.Sscan(x, &i)
		return i
	}
	return 0
}

// toBool reads a JSON boolean as 1.14.1 does: booleans as they are,
// numbers as non-zero, strings by their first character (t, T or 1 is
// true, anything else false: "yes" is false), other values (null, objects,
// arrays) as def.
func toBool(v any, def bool) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64, float64, int:
		return toInt(x) != 0
	case string:
		return x != "" && (x[0] == 't' || x[0] == 'T' || x[0] == '1')
	}
	return def
}

// toIntOr is toInt with 1.14.1's default for values that are not numbers,
// strings or booleans.
func toIntOr(v any, def int64) int64 {
	switch v.(type) {
	case int64, float64, int, json.Number, bool, string:
		return toInt(v)
	}
	return def
}

// toString reads a JSON string as 1.14.1 does: numbers in decimal (as
// unsigned), booleans as "1" or "0", other values as def.
func toString(v any, def string) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatUint(uint64(x), 10)
	case int:
		return strconv.FormatUint(uint64(x), 10)
	case float64:
		return strconv.FormatUint(uint64(x), 10)
	case bool:
		if x {
			return "1"
		}
		return "0"
	}
	return def
}
