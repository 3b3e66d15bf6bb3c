package controller

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgStore keeps networks and members as rows in PostgreSQL, in a schema
// of ztgo's own (1.14.1's PostgreSQL controller needs ZeroTier Central's
// schema): each record whole as jsonb, with the columns a config build
// and a query select on beside it. Several controllers may share one
// database: every update locks its row (SELECT … FOR UPDATE) for its
// read-modify-write, so none is lost.
//
// Every change is announced, in its transaction, with NOTIFY on
// notifyChannel; each store LISTENs there (see Watch), so controllers
// sharing the database follow each other's changes at once.
type pgStore struct {
	pool     *pgxpool.Pool
	log      *slog.Logger
	instance string // random: tells this store's notifications from others'

	watchOnce sync.Once
	stop      context.CancelFunc // ends the listener
	done      chan struct{}      // closed when the listener has ended
}

// notifyChannel is where stores announce changes; the payload is a
// pgNote as JSON.
const notifyChannel = "ztgo_controller"

// listenerName is the application_name of a store's listening connection.
const listenerName = "ztgo controller listener"

// pgNote is a change notification's payload.
type pgNote struct {
	Store    string `json:"s"` // the writing store's instance
	Ctl      string `json:"c"` // controller address
	Network  string `json:"n"`
	Member   string `json:"m,omitempty"`
	Revision int64  `json:"r"` // 0: deleted
}

// migrations are the schema's versions, applied in order, each once; the
// applied ones are listed in ztgo_schema_migrations.
var migrations = []string{
	1: `
CREATE TABLE ztgo_network (
	id            text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
	controller_id text NOT NULL CHECK (controller_id ~ '^[0-9a-f]{10}$'),
	revision      bigint NOT NULL,
	data          jsonb NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ztgo_network_controller ON ztgo_network (controller_id);
CREATE TABLE ztgo_member (
	network_id text NOT NULL REFERENCES ztgo_network (id) ON DELETE CASCADE,
	address    text NOT NULL CHECK (address ~ '^[0-9a-f]{10}$'),
	revision   bigint NOT NULL,
	authorized boolean NOT NULL,
	data       jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (network_id, address)
);
CREATE INDEX ztgo_member_authorized ON ztgo_member (network_id, address) WHERE authorized;
`,
}

// migrationLock is the advisory lock key under which migrations run, so
// controllers starting together apply each migration once.
const migrationLock = 0x7a74676f // "ztgo"

// OpenPostgres connects to PostgreSQL (conn is a libpq connection string
// or URL) and brings the schema up to date.
func OpenPostgres(ctx context.Context, conn string, log *slog.Logger) (Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(strings.TrimSpace(conn))
	if err != nil {
		return nil, fmt.Errorf("controller database: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("controller database: %w", err)
	}
	var inst [8]byte
	rand.Read(inst[:])
	s := &pgStore{pool: pool, log: log, instance: hex.EncodeToString(inst[:])}
	if _, ok := ctx.Deadline(); !ok {
		// An unreachable server is an error at start, not a hang.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("controller database: %w", err)
	}
	return s, nil
}

// migrate applies the migrations not yet applied, in one transaction under
// an advisory lock: safe to run twice, and from several controllers at once.
func (s *pgStore) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS ztgo_schema_migrations (
	version    integer PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM ztgo_schema_migrations`).Scan(&have); err != nil {
			return err
		}
		latest := len(migrations) - 1
		if have > latest {
			return fmt.Errorf("schema version %d is newer than this ztgo's (%d)", have, latest)
		}
		for v := have + 1; v <= latest; v++ {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migration %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO ztgo_schema_migrations (version) VALUES ($1)`, v); err != nil {
				return err
			}
			s.log.Info("controller database migrated", "version", v)
		}
		return nil
	})
}

func (s *pgStore) Load(ctx context.Context, ctl string) (map[string]record, map[string]map[string]record, error) {
	networks, members := map[string]record{}, map[string]map[string]record{}
	rows, err := s.pool.Query(ctx, `SELECT id, data FROM ztgo_network WHERE controller_id = $1`, ctl)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, nil, err
		}
		r, err := pgDecode(data)
		if err != nil {
			s.log.Error("controller database: unreadable network row not served", "network", id, "err", err)
			continue
		}
		networks[id] = r
		members[id] = map[string]record{}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows, err = s.pool.Query(ctx, `SELECT m.network_id, m.address, m.data FROM ztgo_member m JOIN ztgo_network n ON n.id = m.network_id WHERE n.controller_id = $1`, ctl)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var nwid, addr string
		var data []byte
		if err := rows.Scan(&nwid, &addr, &data); err != nil {
			return nil, nil, err
		}
		r, err := pgDecode(data)
		if err != nil {
			s.log.Error("controller database: unreadable member row not served", "network", nwid, "member", addr, "err", err)
			continue
		}
		if members[nwid] != nil {
			members[nwid][addr] = r
		}
	}
	return networks, members, rows.Err()
}

// update is a row's read-modify-write: the row is locked while fn runs; a
// row that another writer inserted first makes it start over.
func (s *pgStore) update(ctx context.Context, nwid, addr, sel, ins, upd string, keys []any, fn func(cur record) record, cols func(r record) []any) (old, next record, err error) {
	for attempt := 0; ; attempt++ {
		retry := false
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			old, next = nil, nil
			var data []byte
			switch err := tx.QueryRow(ctx, sel, keys...).Scan(&data); {
			case errors.Is(err, pgx.ErrNoRows):
			case err != nil:
				return err
			default:
				if old, err = pgDecode(data); err != nil {
					return fmt.Errorf("stored record unreadable: %w", err)
				}
			}
			var cur record
			if old != nil {
				cur = clone(old)
			}
			next = fn(cur)
			if next == nil {
				return nil
			}
			b, err := pgEncode(next)
			if err != nil {
				return err
			}
			args := append(append(append([]any{}, keys...), string(b)), cols(next)...)
			if old != nil {
				if _, err = tx.Exec(ctx, upd, args...); err != nil {
					return err
				}
				return s.notify(ctx, tx, nwid, addr, revisionOf(next))
			}
			tag, err := tx.Exec(ctx, ins, args...)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				retry = true
				return errRetry
			}
			return s.notify(ctx, tx, nwid, addr, revisionOf(next))
		})
		if retry && attempt < 10 {
			continue
		}
		if err != nil {
			return nil, nil, pgError(err)
		}
		return old, next, nil
	}
}

var errRetry = errors.New("row inserted concurrently")

func pgError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" { // foreign_key_violation
		return ErrNotFound
	}
	return err
}

func (s *pgStore) UpdateNetwork(ctx context.Context, nwid string, fn func(cur record) record) (record, record, error) {
	return s.update(ctx, nwid, "",
		`SELECT data FROM ztgo_network WHERE id = $1 FOR UPDATE`,
		`INSERT INTO ztgo_network (id, data, revision, controller_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		`UPDATE ztgo_network SET data = $2, revision = $3, controller_id = $4, updated_at = now() WHERE id = $1`,
		[]any{nwid}, fn, func(r record) []any {
			if len(nwid) != 16 {
				return []any{revisionOf(r), ""}
			}
			return []any{revisionOf(r), nwid[:10]}
		})
}

func (s *pgStore) UpdateMember(ctx context.Context, nwid, addr string, fn func(cur record) record) (record, record, error) {
	return s.update(ctx, nwid, addr,
		`SELECT data FROM ztgo_member WHERE network_id = $1 AND address = $2 FOR UPDATE`,
		`INSERT INTO ztgo_member (network_id, address, data, revision, authorized) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		`UPDATE ztgo_member SET data = $3, revision = $4, authorized = $5, updated_at = now() WHERE network_id = $1 AND address = $2`,
		[]any{nwid, addr}, fn, func(r record) []any { return []any{revisionOf(r), toBool(r["authorized"], false)} })
}

// notify announces a change in its transaction (delivered at commit).
func (s *pgStore) notify(ctx context.Context, tx pgx.Tx, nwid, addr string, rev int64) error {
	ctl := ""
	if len(nwid) == 16 {
		ctl = nwid[:10]
	}
	b, _ := json.Marshal(pgNote{Store: s.instance, Ctl: ctl, Network: nwid, Member: addr, Revision: rev})
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, string(b))
	return err
}

func (s *pgStore) delete(ctx context.Context, nwid, addr, query string, args ...any) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, query, args...)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return s.notify(ctx, tx, nwid, addr, 0)
	})
}

func (s *pgStore) DeleteNetwork(ctx context.Context, nwid string) error {
	return s.delete(ctx, nwid, "", `DELETE FROM ztgo_network WHERE id = $1`, nwid)
}

func (s *pgStore) DeleteMember(ctx context.Context, nwid, addr string) error {
	return s.delete(ctx, nwid, addr, `DELETE FROM ztgo_member WHERE network_id = $1 AND address = $2`, nwid, addr)
}

func (s *pgStore) Get(ctx context.Context, nwid, addr string) (record, error) {
	var data []byte
	var err error
	if addr == "" {
		err = s.pool.QueryRow(ctx, `SELECT data FROM ztgo_network WHERE id = $1`, nwid).Scan(&data)
	} else {
		err = s.pool.QueryRow(ctx, `SELECT data FROM ztgo_member WHERE network_id = $1 AND address = $2`, nwid, addr).Scan(&data)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return pgDecode(data)
}

// Watch LISTENs on a connection of its own, on a goroutine that Close
// ends. A lost connection is made again, with backoff, and reported as a
// Resync, since notifications sent meanwhile are lost.
func (s *pgStore) Watch(ctl string, fn func(Change)) {
	s.watchOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		s.stop, s.done = cancel, make(chan struct{})
		first := make(chan struct{})
		go func() {
			defer close(s.done)
			s.listen(ctx, ctl, fn, first)
		}()
		select {
		case <-first:
		case <-time.After(10 * time.Second):
		}
	})
}

// listenBackoff bounds the wait between attempts to listen again.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 10 * time.Second
)

func (s *pgStore) listen(ctx context.Context, ctl string, fn func(Change), first chan struct{}) {
	backoff := listenBackoffMin
	for attempt := 0; ; attempt++ {
		err := s.listenOnce(ctx, ctl, fn, func() {
			backoff = listenBackoffMin
			if attempt == 0 {
				close(first)
			} else {
				s.log.Info("controller database: listening for other controllers' changes again; reloading")
				fn(Change{Resync: true})
			}
		})
		if ctx.Err() != nil {
			return
		}
		if attempt == 0 {
			select {
			case <-first:
			default:
				// The first attempt failed: Watch need not wait, and
				// whatever the caller loaded may be outdated by the time
				// a later attempt listens.
				close(first)
				attempt = 1
			}
		}
		s.log.Warn("controller database: not listening for other controllers' changes; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// listenOnce takes a connection out of the pool, LISTENs on it, calls up
// when listening and then passes on notifications until the connection
// fails or ctx ends. The connection never returns to the pool.
func (s *pgStore) listenOnce(ctx context.Context, ctl string, fn func(Change), up func()) error {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack()
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `SET application_name = '`+listenerName+`'`); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `LISTEN `+notifyChannel); err != nil {
		return err
	}
	up()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var note pgNote
		if err := json.Unmarshal([]byte(n.Payload), &note); err != nil {
			s.log.Warn("controller database: unreadable notification", "payload", n.Payload, "err", err)
			continue
		}
		if note.Store == s.instance || note.Ctl != ctl {
			continue
		}
		fn(Change{Network: note.Network, Member: note.Member, Revision: note.Revision})
	}
}

func (s *pgStore) Close() error {
	s.watchOnce.Do(func() {}) // a Watch after Close does nothing
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	s.pool.Close()
	return nil
}

// jsonb cannot hold U+0000, which the API accepts in strings (a name, say)
// and controller.d keeps. In the database a string's U+0000 is stored as
// U+E000 '0' and its U+E000 (a private-use character) as U+E000 'E'.
const pgEscapeRune = "\ue000"

var (
	pgEscaper   = strings.NewReplacer(pgEscapeRune, pgEscapeRune+"E", "\x00", pgEscapeRune+"0")
	pgUnescaper = strings.NewReplacer(pgEscapeRune+"E", pgEscapeRune, pgEscapeRune+"0", "\x00")
)

func pgEncode(r record) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil || !bytes.Contains(b, []byte(`\u0000`)) && !bytes.Contains(b, []byte(pgEscapeRune)) {
		return b, err
	}
	return json.Marshal(mapStrings(r, pgEscaper.Replace))
}

func pgDecode(b []byte) (record, error) {
	r, err := decodeRecord(b)
	if err != nil || !bytes.Contains(b, []byte(pgEscapeRune)) {
		return r, err
	}
	return mapStrings(r, pgUnescaper.Replace).(record), nil
}

// mapStrings applies f to every string in v, object keys included.
func mapStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[f(k)] = mapStrings(e, f)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = mapStrings(e, f)
		}
		return out
	}
	return v
}
