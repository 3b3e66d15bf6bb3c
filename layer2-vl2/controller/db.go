package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strconv"
	"strings"
)

// record is a network or member object exactly as stored: JSON with
// sorted keys (encoding/json sorts map keys, as nlohmann does).
type record = map[string]any

// Store is where a controller keeps its networks and members: the
// controller.d files (ZeroTierOne's layout, the default) or PostgreSQL
// (controller.md §8.11). A controller holds every record in memory as
// well, for config builds; the store is what a restart, or another
// controller sharing the database, reads.
//
// Updates are read-modify-write: the store reads the record as it is now
// (nil if there is none), gives fn a private copy and stores what fn
// returns — atomically, so that two updates of one record, from this
// process or another, never lose either. fn may run more than once; it
// returns nil to store nothing. The result is the record as it was and
// the record stored (nil if nothing was).
type Store interface {
	// Load returns every network served by the controller with address
	// ctl (10 hex digits), and their members by network ID and address.
	Load(ctx context.Context, ctl string) (networks map[string]record, members map[string]map[string]record, err error)
	UpdateNetwork(ctx context.Context, nwid string, fn func(cur record) record) (old, stored record, err error)
	UpdateMember(ctx context.Context, nwid, addr string, fn func(cur record) record) (old, stored record, err error)
	// DeleteNetwork removes a network and its members.
	DeleteNetwork(ctx context.Context, nwid string) error
	DeleteMember(ctx context.Context, nwid, addr string) error
	// Get returns a network (addr "") or member record as stored now, nil
	// if there is none.
	Get(ctx context.Context, nwid, addr string) (record, error)
	// Watch reports, until Close, changes that others (another controller
	// sharing the database) make to controller ctl's records; a store that
	// only this process writes reports nothing. It returns once the store
	// listens, or has failed to and keeps trying: a Change with Resync set
	// then says some may have been missed. fn runs on one goroutine, one
	// change at a time, and must not call Close.
	Watch(ctl string, fn func(Change))
	Close() error
}

// Change names a record that another writer changed (or deleted): the
// reader re-reads it with Get.
type Change struct {
	Network  string // 16 hex digits
	Member   string // 10 hex digits; "" for the network itself
	Revision int64  // as stored; 0 for a deletion
	// Resync: changes may have been missed (the store stopped listening a
	// while); reload everything.
	Resync bool
}

// OpenStore opens the store that ZeroTierOne's local.conf setting
// controllerDbPath names: "postgres:" followed by a libpq connection
// string is PostgreSQL, anything else a controller.d directory ("" is
// memory only).
func OpenStore(ctx context.Context, path string, log *slog.Logger) (Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if conn, ok := strings.CutPrefix(path, "postgres:"); ok {
		return OpenPostgres(ctx, conn, log)
	}
	return OpenFiles(path, log)
}

// db is the controller's in-memory copy of its store.
type db struct {
	store    Store
	networks map[string]record            // by 16-hex ID
	members  map[string]map[string]record // nwid -> addr -> member; written only through setMember
	changes  dbChanges

	// What config builds and first requests would otherwise scan every
	// member for, kept in step by setMember: a network's active bridges,
	// and how many of its members were never authorized.
	bridges map[string]map[string]bool
	pending map[string]int
}

// setMember stores r (nil: deletes) as nwid's member addr and keeps the
// indexes in step.
func (d *db) setMember(nwid, addr string, r record) {
	if old := d.members[nwid][addr]; old != nil {
		if toBool(old["activeBridge"], false) {
			delete(d.bridges[nwid], addr)
		}
		if neverAuthorized(old) {
			d.pending[nwid]--
		}
	}
	if r == nil {
		delete(d.members[nwid], addr)
		return
	}
	if d.members[nwid] == nil {
		d.members[nwid] = map[string]record{}
	}
	d.members[nwid][addr] = r
	if toBool(r["activeBridge"], false) {
		if d.bridges[nwid] == nil {
			d.bridges[nwid] = map[string]bool{}
		}
		d.bridges[nwid][addr] = true
	}
	if neverAuthorized(r) {
		d.pending[nwid]++
	}
}

// dropNetworkMembers forgets a network's members and their indexes.
func (d *db) dropNetworkMembers(nwid string) {
	delete(d.members, nwid)
	delete(d.bridges, nwid)
	delete(d.pending, nwid)
}

func neverAuthorized(m record) bool {
	return !toBool(m["authorized"], false) && toInt(m["lastAuthorizedTime"]) == 0
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

func loadDB(ctx context.Context, s Store, ctl string) (*db, error) {
	networks, members, err := s.Load(ctx, ctl)
	if err != nil {
		return nil, err
	}
	d := &db{store: s}
	d.replace(networks, members)
	return d, nil
}

// replace makes the given records the whole database, indexes rebuilt.
func (d *db) replace(networks map[string]record, members map[string]map[string]record) {
	d.networks, d.members = networks, map[string]map[string]record{}
	d.bridges, d.pending = map[string]map[string]bool{}, map[string]int{}
	for nwid, ms := range members {
		for addr, m := range ms {
			d.setMember(nwid, addr, m)
		}
	}
	for id := range d.networks {
		if d.members[id] == nil {
			d.members[id] = map[string]record{}
		}
	}
}

// revise wraps an update: fn sees a copy of the current record, and what
// it returns is stored only if it differs in more than the revision, with
// the revision bumped.
func revise(fn func(cur record) record) func(cur record) record {
	return func(cur record) record {
		var in record
		if cur != nil {
			in = clone(cur)
		}
		next := fn(in)
		if next == nil || !changed(cur, next) {
			return nil
		}
		next["revision"] = revisionOf(cur) + 1
		return next
	}
}

// updateNetwork changes a network through fn (see Store), reporting
// whether anything was stored.
func (d *db) updateNetwork(nwid string, fn func(cur record) record) (bool, error) {
	old, next, err := d.store.UpdateNetwork(context.Background(), nwid, revise(fn))
	if err != nil {
		return false, err
	}
	if next == nil {
		d.refreshNetwork(nwid, old)
		return false, nil
	}
	if old != nil {
		d.changes.networkChanges++
	}
	d.refreshNetwork(nwid, next)
	return true, nil
}

func (d *db) refreshNetwork(nwid string, r record) {
	if r == nil {
		delete(d.networks, nwid)
		d.dropNetworkMembers(nwid)
		return
	}
	d.networks[nwid] = r
	if d.members[nwid] == nil {
		d.members[nwid] = map[string]record{}
	}
}

// updateMember changes a member through fn (see Store), reporting whether
// anything was stored.
func (d *db) updateMember(nwid, addr string, fn func(cur record) record) (bool, error) {
	old, next, err := d.store.UpdateMember(context.Background(), nwid, addr, revise(fn))
	if err != nil {
		return false, err
	}
	if next == nil {
		d.refreshMember(nwid, addr, old)
		return false, nil
	}
	d.refreshMember(nwid, addr, next)
	d.changes.member(old, next)
	return true, nil
}

// touchMember is updateMember for config requests, which mostly change
// nothing: when fn leaves the record in memory as it is, the store is not
// asked. (An API write always goes to the store: there, memory may be older
// than a database shared with another controller.)
func (d *db) touchMember(nwid, addr string, fn func(cur record) record) (bool, error) {
	if cur := d.members[nwid][addr]; cur != nil && revise(fn)(cur) == nil {
		return false, nil
	}
	return d.updateMember(nwid, addr, fn)
}

func (d *db) refreshMember(nwid, addr string, r record) { d.setMember(nwid, addr, r) }

func (d *db) deleteNetwork(id string) error {
	delete(d.networks, id)
	d.dropNetworkMembers(id)
	return d.store.DeleteNetwork(context.Background(), id)
}

func (d *db) deleteMember(nwid, addr string) error {
	if old := d.members[nwid][addr]; old != nil {
		d.changes.member(old, nil)
	}
	d.setMember(nwid, addr, nil)
	return d.store.DeleteMember(context.Background(), nwid, addr)
}

func (d *db) networkIDs() []string {
	ids := make([]string, 0, len(d.networks))
	for id := range d.networks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func revisionOf(r record) int64 {
	if r == nil {
		return 0
	}
	return toInt(r["revision"])
}

// decodeRecord parses a stored record.
func decodeRecord(b []byte) (record, error) {
	var r record
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errors.New("not a JSON object")
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
	out, _ := decodeRecord(b)
	return out
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
	return !bytes.Equal(ja, jb)
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
