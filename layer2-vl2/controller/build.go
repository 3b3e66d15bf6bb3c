package controller

import (
	"encoding/binary"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	vl2 "github.com/ztgo/ztgo/layer2-vl2"
	"github.com/ztgo/ztgo/layer2-vl2/rules"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// buildLocked is _request (controller.md §8.2–8.9): it returns the config
// dictionary, or an error code. (1.14.1 pushes the config once more when
// the request changed the member record; the reply already carries it.)
func (c *Controller) buildLocked(now int64, req vl2.ConfigRequest, s *seen) ([]byte, wire.ErrorCode) {
	nwid := nwidString(req.NetworkID)
	addr := req.From.Address().String()
	netw := c.db.networks[nwid]
	if netw == nil {
		return nil, wire.ErrorObjectNotFound
	}
	var (
		dict         []byte
		code         wire.ErrorCode
		unauthorized bool
	)
	// A changed member record is read and written back atomically (a
	// store shared with other controllers may hold a newer one than
	// memory).
	build := func(old record) record {
		dict, code, unauthorized = nil, 0, false
		m := old
		newMember := old == nil
		if newMember {
			m = record{}
		}
		initMember(m, nwid, addr, now)
		if ids, ok := m["identity"].(string); ok && ids != "" {
			bound, err := identity.Parse(ids)
			if err != nil || !bound.Equal(req.From) {
				code = wire.ErrorNetworkAccessDenied
				return nil
			}
		} else {
			m["identity"] = req.From.String()
		}
		authorized := toBool(m["authorized"], false)
		if !authorized && !toBool(netw["private"], true) {
			authorized = true
			m["authorized"], m["lastAuthorizedTime"], m["lastAuthorizedCredentialType"], m["lastAuthorizedCredential"] = true, now, "public", nil
		}
		if !authorized {
			if tok, ok := req.Metadata.Get("a"); ok && strings.HasPrefix(string(tok), "token:") {
				if toks, ok := netw["authTokens"].(map[string]any); ok {
					if exp, ok := toks[string(tok[6:])]; ok && (toInt(exp) == 0 || toInt(exp) > now) {
						authorized = true
						m["authorized"], m["lastAuthorizedTime"], m["lastAuthorizedCredentialType"], m["lastAuthorizedCredential"] = true, now, "token", string(tok[6:])
					}
				}
			}
		}
		if !authorized {
			code, unauthorized = wire.ErrorNetworkAccessDenied, true
			if newMember && c.pendingLocked(nwid) >= maxPendingMembers {
				// Strangers cannot fill the disk or slow every config
				// build: past the cap they are refused without a record
				// and may ask again once the operator has caught up.
				return nil
			}
			return m
		}
		// Pushes reuse the metadata of the member's last genuine request.
		if req.Metadata != nil {
			for k, key := range map[string]string{"vMajor": "majv", "vMinor": "minv", "vRev": "revv", "vProto": "pv"} {
				if v, ok := req.Metadata.Get(key); ok {
					if n, err := strconv.ParseUint(string(v), 16, 64); err == nil {
						m[k] = int64(n)
					}
				}
			}
		}
		cfg := c.configFor(now, req, netw, m, newMember)
		dict = cfg.Dictionary().Append(nil)
		return m
	}
	if _, err := c.db.touchMember(nwid, addr, build); err != nil {
		// The store failed: answer from memory, unsaved.
		c.log.Warn("cannot save member", "network", nwid, "member", addr, "err", err)
		old := c.db.members[nwid][addr]
		if old != nil {
			old = clone(old)
		}
		build(old)
	}
	if unauthorized {
		s.authorized = false
	}
	if code != 0 {
		return nil, code
	}
	s.authorized, s.lastConfig = true, now
	return dict, 0
}

// maxPendingMembers bounds the records of members never authorized, per
// network.
const maxPendingMembers = 1024

// pendingLocked counts a network's members that were never authorized
// (c.mu held).
func (c *Controller) pendingLocked(nwid string) int { return c.db.pending[nwid] }

// configFor builds the NetworkConfig (controller.md §8.5–8.8).
func (c *Controller) configFor(now int64, req vl2.ConfigRequest, netw, m record, newMember bool) *vl2wire.NetworkConfig {
	member := req.From
	ctmd := int64(defaultCTMD)
	if v, ok := netw["certificateTimeoutWindowSize"]; ok {
		ctmd = min(max(toInt(v), 5*60*1000), 2*60*60*1000)
	}
	cfg := &vl2wire.NetworkConfig{
		NetworkID:              req.NetworkID,
		Timestamp:              now,
		CredentialTimeMaxDelta: ctmd,
		Revision:               uint64(toInt(netw["revision"])),
		IssuedTo:               member.Address(),
		MulticastLimit:         uint64(toInt(orDefault(netw["multicastLimit"], int64(32)))),
		Name:                   truncate(str(netw["name"]), 127),
		MTU:                    int(min(max(toInt(orDefault(netw["mtu"], int64(2800))), 1280), 10000)),
	}
	if !toBool(netw["private"], true) {
		cfg.Type = vl2wire.NetworkPublic
	}
	if toBool(netw["enableBroadcast"], true) {
		cfg.Flags |= vl2wire.ConfigFlagEnableBroadcast
	}
	if t, ok := m["remoteTraceTarget"].(string); ok {
		cfg.RemoteTraceTarget, _ = identity.ParseAddress(t)
		cfg.RemoteTraceLevel = uint64(toInt(m["remoteTraceLevel"]))
	} else if t, ok := netw["remoteTraceTarget"].(string); ok {
		cfg.RemoteTraceTarget, _ = identity.ParseAddress(t)
		cfg.RemoteTraceLevel = uint64(toInt(netw["remoteTraceLevel"]))
	}
	for _, addr := range slices.Sorted(maps.Keys(c.db.bridges[str(netw["id"])])) {
		if a, err := identity.ParseAddress(addr); err == nil {
			cfg.Specialists = append(cfg.Specialists, vl2wire.SpecialistActiveBridge|uint64(a))
		}
	}
	// Rules: a client without a rules engine revision gets ACCEPT only.
	var table []rules.Rule
	if v, ok := req.Metadata.Get("revr"); ok && string(v) != "" && strings.Trim(string(v), "0") != "" {
		for _, r := range anySlice(netw["rules"]) {
			if o, ok := r.(map[string]any); ok && len(table) < 1024 {
				if rule, ok := rules.FromJSON(o); ok {
					table = append(table, rule)
				}
			}
		}
	} else {
		table = []rules.Rule{{Type: rules.ActionAccept}}
	}
	cfg.Rules = rules.AppendTable(nil, table)
	c.issueCapabilitiesAndTags(now, cfg, netw, m, member, newMember)
	c.assignAddresses(cfg, netw, m, member.Address())
	cfg.DNS = dnsOf(netw["dns"])
	if len(cfg.StaticIPs) > 0 {
		coo := &vl2wire.COO{NetworkID: req.NetworkID, Timestamp: now, ID: 1, IssuedTo: member.Address()}
		for _, p := range cfg.StaticIPs {
			coo.AddIP(p.Addr())
		}
		if coo.Sign(c.id) == nil {
			cfg.COOs = []*vl2wire.COO{coo}
		}
	}
	com := vl2wire.NewCOM(now, ctmd, req.NetworkID, member)
	if com.Sign(c.id) == nil {
		cfg.COM = com
	}
	return cfg
}

func (c *Controller) issueCapabilitiesAndTags(now int64, cfg *vl2wire.NetworkConfig, netw, m record, member *identity.Identity, newMember bool) {
	caps := anySlice(netw["capabilities"])
	memberCaps := anySlice(m["capabilities"])
	if newMember {
		for _, e := range caps {
			if o, ok := e.(map[string]any); ok && toBool(o["default"], false) {
				memberCaps = append(memberCaps, toInt(o["id"]))
			}
		}
		m["capabilities"] = orEmpty(memberCaps)
	}
	for _, id := range memberCaps {
		for _, e := range caps {
			o, ok := e.(map[string]any)
			if !ok || toInt(o["id"]) != toInt(id) || len(cfg.Capabilities) >= 128 {
				continue
			}
			var rs []rules.Rule
			for _, r := range anySlice(o["rules"]) {
				if ro, ok := r.(map[string]any); ok && len(rs) < 64 {
					if rule, ok := rules.FromJSON(ro); ok {
						rs = append(rs, rule)
					}
				}
			}
			capab := &vl2wire.Capability{NetworkID: cfg.NetworkID, Timestamp: now, ID: uint32(toInt(id)), RuleCount: len(rs), Rules: rules.AppendTable(nil, rs)}
			if capab.Sign(c.id, member.Address()) == nil {
				cfg.Capabilities = append(cfg.Capabilities, capab)
			}
		}
	}
	memberTags := anySlice(m["tags"])
	have := map[int64]bool{}
	for _, t := range memberTags {
		if p, ok := t.([]any); ok && len(p) == 2 {
			have[toInt(p[0])] = true
		}
	}
	for _, e := range anySlice(netw["tags"]) {
		if o, ok := e.(map[string]any); ok && o["default"] != nil && !have[toInt(o["id"])] {
			memberTags = append(memberTags, []any{toInt(o["id"]), toInt(o["default"])})
		}
	}
	m["tags"] = sortedTags(memberTags)
	for _, t := range anySlice(m["tags"]) {
		p := t.([]any)
		tag := &vl2wire.Tag{NetworkID: cfg.NetworkID, Timestamp: now, ID: uint32(toInt(p[0])), Value: uint32(toInt(p[1])), IssuedTo: member.Address()}
		if tag.Sign(c.id) == nil && len(cfg.Tags) < 128 {
			cfg.Tags = append(cfg.Tags, tag)
		}
	}
}

func sortedTags(tags []any) []any {
	byID := map[int64]any{}
	for _, t := range tags {
		if p, ok := t.([]any); ok && len(p) == 2 {
			byID[toInt(p[0])] = []any{toInt(p[0]), toInt(p[1])}
		}
	}
	return sortedByID(byID)
}

func dnsOf(v any) vl2wire.DNS {
	var d vl2wire.DNS
	o, ok := v.(map[string]any)
	if !ok {
		return d
	}
	d.Domain = truncate(str(o["domain"]), 127)
	for _, s := range anySlice(o["servers"]) {
		txt := str(s)
		port := uint16(0)
		if i := strings.LastIndexByte(txt, '/'); i > 0 {
			p, _ := strconv.Atoi(txt[i+1:])
			port, txt = uint16(p), txt[:i]
		}
		if a, err := netip.ParseAddr(txt); err == nil && len(d.Servers) < 4 {
			d.Servers = append(d.Servers, netip.AddrPortFrom(a, port))
		}
	}
	return d
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func orDefault(v, def any) any {
	if v == nil {
		return def
	}
	return v
}

// rfc4193 and sixPlane are the automatic IPv6 schemes (vl2.md §1.4).
func rfc4193(nwid uint64, a identity.Address) netip.Prefix {
	var b [16]byte
	b[0] = 0xfd
	binary.BigEndian.PutUint64(b[1:9], nwid)
	b[9], b[10] = 0x99, 0x93
	a.Put(b[11:16])
	return netip.PrefixFrom(netip.AddrFrom16(b), 88)
}

func sixPlane(nwid uint64, a identity.Address) netip.Prefix {
	var b [16]byte
	b[0] = 0xfc
	binary.BigEndian.PutUint32(b[1:5], uint32((nwid^(nwid>>32))&0xffffffff))
	a.Put(b[5:10])
	b[15] = 0x01
	return netip.PrefixFrom(netip.AddrFrom16(b), 40)
}
