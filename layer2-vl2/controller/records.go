package controller

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ztgo/ztgo/layer2-vl2/rules"
)

// defaultRules is a new network's table: accept everything.
func defaultRules() []any {
	return []any{record{"not": false, "or": false, "type": "ACTION_ACCEPT"}}
}

// initNetwork fills DB::initNetwork's defaults (controller.md §9.3).
func initNetwork(r record, id string, now int64) {
	def := map[string]any{
		"authTokens": []any{nil}, "authorizationEndpoint": "", "capabilities": []any{}, "clientId": "",
		"creationTime": now, "dns": []any{}, "enableBroadcast": true, "ipAssignmentPools": []any{},
		"mtu": int64(2800), "multicastLimit": int64(32), "name": "", "private": true,
		"remoteTraceLevel": int64(0), "remoteTraceTarget": nil, "revision": int64(0), "routes": []any{},
		"rules": defaultRules(), "rulesSource": "", "ssoEnabled": false, "tags": []any{},
		"v4AssignMode": record{"zt": false}, "v6AssignMode": record{"6plane": false, "rfc4193": false, "zt": false},
	}
	for k, v := range def {
		if _, ok := r[k]; !ok {
			r[k] = v
		}
	}
	r["id"], r["nwid"], r["objtype"] = id, id, "network"
}

// initMember fills DB::initMember's defaults (controller.md §9.5).
func initMember(r record, nwid, addr string, now int64) {
	def := map[string]any{
		"activeBridge": false, "authenticationExpiryTime": int64(0), "authorized": false, "capabilities": []any{},
		"creationTime": now, "ipAssignments": []any{}, "lastAuthorizedCredential": nil,
		"lastAuthorizedCredentialType": nil, "lastAuthorizedTime": int64(0), "lastDeauthorizedTime": int64(0),
		"noAutoAssignIps": false, "remoteTraceLevel": int64(0), "remoteTraceTarget": nil, "revision": int64(0),
		"ssoExempt": false, "tags": []any{}, "vMajor": int64(-1), "vMinor": int64(-1), "vProto": int64(-1), "vRev": int64(-1),
	}
	for k, v := range def {
		if _, ok := r[k]; !ok {
			r[k] = v
		}
	}
	r["id"], r["address"], r["nwid"], r["objtype"] = addr, addr, nwid, "member"
}

// applyNetworkPost merges a POST body into a network (controller.md §9.3).
func applyNetworkPost(r, body record) {
	for _, k := range []string{"clock", "authorizedMemberCount", "activeMemberCount", "totalMemberCount", "lastModified"} {
		delete(body, k)
	}
	// Mistyped values are read as 1.14.1 reads them (toBool, toIntOr,
	// toString): {"private":"yes"} makes a public network.
	if v, ok := body["name"]; ok {
		r["name"] = toString(v, "")
	}
	if v, ok := body["private"]; ok {
		r["private"] = toBool(v, true)
	}
	if v, ok := body["enableBroadcast"]; ok {
		r["enableBroadcast"] = toBool(v, false)
	}
	if v, ok := body["multicastLimit"]; ok {
		r["multicastLimit"] = toIntOr(v, 32)
	}
	if v, ok := body["mtu"]; ok {
		r["mtu"] = min(max(toIntOr(v, 2800), 1280), 10000)
	}
	if v, ok := body["v4AssignMode"]; ok {
		switch x := v.(type) {
		case map[string]any:
			r["v4AssignMode"] = record{"zt": toBool(x["zt"], false)}
		case string:
			r["v4AssignMode"] = record{"zt": x == "zt"}
		default:
			r["v4AssignMode"] = record{"zt": false}
		}
	}
	if v, ok := body["v6AssignMode"]; ok {
		m := record{}
		switch x := v.(type) {
		case map[string]any:
			for _, k := range []string{"rfc4193", "zt", "6plane"} {
				if b, ok := x[k]; ok {
					m[k] = toBool(b, false)
				}
			}
		case string:
			for _, mode := range strings.Split(x, ",") {
				mode = strings.TrimSpace(mode)
				if mode == "rfc4193" || mode == "zt" || mode == "6plane" {
					m[mode] = true
				}
			}
		default:
			m = record{"rfc4193": false, "zt": false, "6plane": false}
		}
		r["v6AssignMode"] = m
	}
	if v, ok := body["routes"].([]any); ok {
		var routes []any
		for _, e := range v {
			o, _ := e.(map[string]any)
			t, _ := o["target"].(string)
			p, err := netip.ParsePrefix(t)
			if err != nil || len(routes) >= 16384 {
				continue
			}
			route := record{"target": p.String(), "via": nil}
			if via, ok := o["via"].(string); ok {
				if a, err := netip.ParseAddr(via); err == nil && a.Is4() == p.Addr().Is4() {
					route["via"] = a.String()
				}
			}
			routes = append(routes, route)
		}
		r["routes"] = orEmpty(routes)
	}
	if v, ok := body["ipAssignmentPools"].([]any); ok {
		var pools []any
		for _, e := range v {
			o, _ := e.(map[string]any)
			s, ok1 := o["ipRangeStart"]
			t, ok2 := o["ipRangeEnd"]
			if !ok1 || !ok2 {
				continue
			}
			a, err1 := netip.ParseAddr(toString(s, ""))
			b, err2 := netip.ParseAddr(toString(t, ""))
			if err1 != nil || err2 != nil || a.Is4() != b.Is4() {
				continue
			}
			pools = append(pools, record{"ipRangeStart": a.String(), "ipRangeEnd": b.String()})
		}
		r["ipAssignmentPools"] = orEmpty(pools)
	}
	if v, ok := body["rules"].([]any); ok {
		r["rules"] = orEmpty(rules.NormalizeJSON(v))
	} else if src, ok := body["rulesSource"].(string); ok {
		// ztgo extension: the API also takes the rules language; 1.14.1
		// only stores the text.
		if c, err := rules.Compile(src); err == nil {
			r["rules"] = orEmpty(c.Rules)
			var caps, tags []any
			for _, v := range c.Capabilities {
				caps = append(caps, v)
			}
			for _, v := range c.Tags {
				tags = append(tags, v)
			}
			body["capabilities"], body["tags"] = orEmpty(caps), orEmpty(tags)
			r["rulesSource"] = src
		}
	}
	if v, ok := body["capabilities"].([]any); ok {
		byID := map[int64]any{}
		for _, e := range v {
			o, _ := e.(map[string]any)
			if o == nil {
				continue
			}
			id := toInt(o["id"])
			rs, _ := o["rules"].([]any)
			byID[id] = record{"id": id, "default": toBool(o["default"], false), "rules": orEmpty(rules.NormalizeJSON(rs))}
		}
		r["capabilities"] = sortedByID(byID)
	}
	if v, ok := body["tags"].([]any); ok {
		byID := map[int64]any{}
		for _, e := range v {
			o, _ := e.(map[string]any)
			if o == nil {
				continue
			}
			id := toInt(o["id"])
			var def any
			if d, ok := o["default"]; ok && d != nil {
				def = toInt(d)
			}
			byID[id] = record{"id": id, "default": def}
		}
		r["tags"] = sortedByID(byID)
	}
	if v, ok := body["authTokens"]; ok {
		if o, ok := v.(map[string]any); ok {
			t := record{}
			for k, e := range o {
				if n := toInt(e); n >= 0 {
					switch e.(type) {
					case int64, float64, int:
						t[k] = n
					}
				}
			}
			r["authTokens"] = t
		} else {
			r["authTokens"] = []any{nil}
		}
	}
	if v, ok := body["dns"].(map[string]any); ok {
		r["dns"] = v
	}
	if v, ok := body["remoteTraceTarget"]; ok {
		if s, ok := v.(string); ok && len(s) == 10 {
			r["remoteTraceTarget"] = s
		} else {
			r["remoteTraceTarget"] = nil
		}
	}
	r["remoteTraceLevel"] = toInt(body["remoteTraceLevel"]) // 1.14.1 quirk: reset when absent
}

func orEmpty(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

func sortedByID(m map[int64]any) []any {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := []any{}
	for _, id := range ids {
		out = append(out, m[id])
	}
	return out
}

// checkMemberPost finds what makes 1.14.1 fail a member POST (500) after
// parsing: an ipAssignments entry that is not a string.
func checkMemberPost(body record) error {
	if v, ok := body["ipAssignments"].([]any); ok {
		for _, e := range v {
			if _, ok := e.(string); !ok {
				return fmt.Errorf("[json.exception.type_error.302] type must be string, but is %s", jsonTypeName(e))
			}
		}
	}
	return nil
}

// jsonTypeName names a decoded JSON value's type as nlohmann's errors do.
func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "number"
}

// applyMemberPost merges a POST body into a member (controller.md §9.5).
// It reports whether the member was deauthorized by it.
func applyMemberPost(r, body record, now int64) (deauthorized bool) {
	for _, k := range []string{"clock", "physicalAddr", "recentLog", "lastModified", "lastRequestMetaData", "authenticationURL", "authenticationClientID"} {
		delete(body, k)
	}
	if b, ok := body["authorized"]; ok {
		v := toBool(b, false)
		was := toBool(r["authorized"], false)
		if v != was {
			r["authorized"] = v
			if v {
				r["lastAuthorizedTime"] = now
				r["lastAuthorizedCredentialType"] = "api"
				r["lastAuthorizedCredential"] = nil
			} else {
				r["lastDeauthorizedTime"] = now
				deauthorized = true
			}
		}
	}
	for _, k := range []string{"activeBridge", "noAutoAssignIps"} {
		if v, ok := body[k]; ok {
			r[k] = toBool(v, false)
		}
	}
	if v, ok := body["ipAssignments"].([]any); ok {
		ips := []any{}
		for _, e := range v {
			s, _ := e.(string) // checkMemberPost made sure
			s, _, _ = strings.Cut(s, "/")
			if a, err := netip.ParseAddr(s); err == nil {
				ips = append(ips, a.String())
			}
		}
		r["ipAssignments"] = ips
	}
	if v, ok := body["tags"].([]any); ok {
		byID := map[int64]any{}
		for _, e := range v {
			if p, ok := e.([]any); ok && len(p) == 2 {
				byID[toInt(p[0])] = []any{toInt(p[0]), toInt(p[1])}
			}
		}
		r["tags"] = sortedByID(byID)
	}
	if v, ok := body["capabilities"].([]any); ok {
		var ids []int64
		for _, e := range v {
			ids = append(ids, toInt(e))
		}
		slices.Sort(ids)
		out := []any{}
		for _, id := range slices.Compact(ids) {
			out = append(out, id)
		}
		r["capabilities"] = out
	}
	if v, ok := body["name"]; ok {
		r["name"] = toString(v, "")
	}
	if v, ok := body["authenticationExpiryTime"]; ok {
		r["authenticationExpiryTime"] = toInt(v)
	}
	if v, ok := body["remoteTraceTarget"]; ok {
		if s, ok := v.(string); ok && len(s) == 10 {
			r["remoteTraceTarget"] = s
		} else {
			r["remoteTraceTarget"] = nil
		}
	}
	r["remoteTraceLevel"] = toInt(body["remoteTraceLevel"])
	return deauthorized
}
