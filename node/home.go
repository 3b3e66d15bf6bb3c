package node

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/ztgo/ztgo/internal/atomicfile"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer1-vl1/world"
)

// DefaultHome is where a node keeps its state unless told otherwise.
const DefaultHome = "/var/lib/ztgo"

// HomeFromEnv is $ZTGO_HOME, or DefaultHome.
func HomeFromEnv() string {
	if h := os.Getenv("ZTGO_HOME"); h != "" {
		return h
	}
	return DefaultHome
}

// Home is a node's state directory, laid out as zerotier-one's
// (service-api.md §11.2), so an existing one can be adopted.
type Home string

func (h Home) path(parts ...string) string {
	return filepath.Join(append([]string{string(h)}, parts...)...)
}

// Identity loads identity.secret, making a new identity on first start.
// identity.public is rewritten when missing or not matching, and the
// secret is kept at mode 0600.
func (h Home) Identity() (*identity.Identity, bool, error) {
	secretPath := h.path("identity.secret")
	b, err := os.ReadFile(secretPath)
	created := false
	var id *identity.Identity
	switch {
	case err == nil:
		id, err = identity.Parse(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w (move it away to make a new identity)", secretPath, err)
		}
		if !id.HasSecret() {
			return nil, false, fmt.Errorf("%s: no secret key in it", secretPath)
		}
		if err := os.Chmod(secretPath, 0o600); err != nil {
			return nil, false, err
		}
	case errors.Is(err, fs.ErrNotExist):
		id, err = identity.Generate(rand.Reader)
		if err != nil {
			return nil, false, err
		}
		if err := atomicfile.WriteFile(secretPath, []byte(id.SecretString()), 0o600); err != nil {
			return nil, false, err
		}
		created = true
	default:
		return nil, false, err
	}
	pub := id.String()
	if old, err := os.ReadFile(h.path("identity.public")); err != nil || strings.TrimSpace(string(old)) != pub {
		if err := atomicfile.WriteFile(h.path("identity.public"), []byte(pub), 0o644); err != nil {
			return nil, false, err
		}
	}
	return id, created, nil
}

// Token reads a token file (authtoken.secret), making a 24-character one
// of [a-z0-9] on first start, mode 0600.
func (h Home) Token(name string) (string, error) {
	p := h.path(name)
	b, err := os.ReadFile(p)
	if err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, os.Chmod(p, 0o600)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	for i := range raw {
		raw[i] = alphabet[int(raw[i])%len(alphabet)]
	}
	return string(raw[:]), atomicfile.WriteFile(p, raw[:], 0o600)
}

// Planet returns the planet file's world, or nil when there is none (the
// built-in planet applies).
func (h Home) Planet() (*world.World, error) {
	b, err := os.ReadFile(h.path("planet"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	w, _, err := world.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", h.path("planet"), err)
	}
	if w.Type != world.Planet {
		return nil, fmt.Errorf("%s: a moon, not a planet (moons go in moons.d)", h.path("planet"))
	}
	return w, nil
}

// Moons returns the worlds in moons.d/<16 hex>.moon.
func (h Home) Moons() ([]*world.World, error) {
	ents, err := os.ReadDir(h.path("moons.d"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ms []*world.World
	for _, e := range ents {
		name := e.Name()
		if len(name) != 21 || !strings.HasSuffix(name, ".moon") {
			continue
		}
		b, err := os.ReadFile(h.path("moons.d", name))
		if err != nil {
			return nil, err
		}
		w, _, err := world.Decode(b)
		if err != nil || w.Type != world.Moon {
			return nil, fmt.Errorf("%s: not a moon: %v", h.path("moons.d", name), err)
		}
		ms = append(ms, w)
	}
	return ms, nil
}

// SaveWorld persists an accepted world update.
func (h Home) SaveWorld(w *world.World) error {
	p := h.path(w.FileName())
	if w.Type == world.Moon {
		p = h.path("moons.d", w.FileName())
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, w.Append(nil), 0o644)
}

// CachedPeer is one peers.d entry.
type CachedPeer struct {
	Identity *identity.Identity
	Proto    uint16
	Version  [3]uint16
	Addrs    []netip.AddrPort
}

// AppendPeerCache writes the peers.d record (service-api.md §11.2).
func AppendPeerCache(b []byte, p CachedPeer) []byte {
	b = append(b, 2)
	b = p.Identity.AppendBinary(b, false)
	b = binary.BigEndian.AppendUint16(b, p.Proto)
	for _, v := range p.Version {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.Addrs)))
	for _, a := range p.Addrs {
		b = wire.AppendInetAddress(b, a)
	}
	return b
}

// ParsePeerCache reads a peers.d record.
func ParsePeerCache(b []byte) (CachedPeer, error) {
	var p CachedPeer
	if len(b) < 1 || b[0] != 2 {
		return p, errors.New("peer cache: not format 2")
	}
	id, n, err := identity.FromBinary(b[1:])
	if err != nil {
		return p, fmt.Errorf("peer cache: %w", err)
	}
	rest := b[1+n:]
	if len(rest) < 10 {
		return p, errors.New("peer cache: truncated")
	}
	p.Identity = id
	p.Proto = binary.BigEndian.Uint16(rest)
	for i := range p.Version {
		p.Version[i] = binary.BigEndian.Uint16(rest[2+2*i:])
	}
	count := int(binary.BigEndian.Uint16(rest[8:]))
	rest = rest[10:]
	for range count {
		ap, used, err := wire.ReadInetAddress(rest)
		if err != nil {
			return p, fmt.Errorf("peer cache: %w", err)
		}
		if ap.IsValid() {
			p.Addrs = append(p.Addrs, ap)
		}
		rest = rest[used:]
	}
	return p, nil
}

// PeerCache reads every peers.d file; unreadable ones are skipped.
func (h Home) PeerCache() []CachedPeer {
	ents, _ := os.ReadDir(h.path("peers.d"))
	var out []CachedPeer
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".peer") {
			continue
		}
		b, err := os.ReadFile(h.path("peers.d", e.Name()))
		if err != nil {
			continue
		}
		if p, err := ParsePeerCache(b); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// SavePeer writes peers.d/<address>.peer.
func (h Home) SavePeer(p CachedPeer) error {
	if err := os.MkdirAll(h.path("peers.d"), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(h.path("peers.d", p.Identity.Address().String()+".peer"), AppendPeerCache(nil, p), 0o644)
}

// WriteText writes a small text file such as zerotier-one.port.
func (h Home) WriteText(name, text string, perm fs.FileMode) error {
	return atomicfile.WriteFile(h.path(name), []byte(text), perm)
}
