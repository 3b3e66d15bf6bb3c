package capture

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/gopacket/gopacket"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer2-vl2/vl2layers"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// describeVL2 describes a VL2 verb with VL2's codecs; if they refuse the
// payload the error is recorded and the outer layout is shown.
func describeVL2(rec *Record, m *wire.VL2, f map[string]any) string {
	if m.HasNetworkID {
		f["network_id"] = hex64(m.NetworkID)
	}
	lt, ok := vl2layers.LayerTypeOf(m.V)
	msg, err := decodeVL2(lt, ok, m, fmt.Sprintf("verb %v", m.V))
	if err != nil {
		rec.Err = err.Error()
		return outerVL2(m)
	}
	switch v := msg.(type) {
	case *vl2wire.Frame:
		rec.Inner, f["frame"] = summarizeFrame(v.EtherType, v.Payload)
		return "nwid " + hex64(v.NetworkID)
	case *vl2wire.ExtFrame:
		f["flags"], f["src_mac"], f["dst_mac"] = v.Flags, v.Source.String(), v.Dest.String()
		f["has_com"] = v.COM != nil
		if !v.NoFrame {
			rec.Inner, f["frame"] = summarizeFrame(v.EtherType, v.Payload)
		}
		return fmt.Sprintf("nwid %s flags %02x %s > %s", hex64(v.NetworkID), v.Flags, v.Source, v.Dest)
	case *vl2wire.MulticastLike:
		groups := make([]string, len(v.Records))
		for i, r := range v.Records {
			groups[i] = fmt.Sprintf("%s/%s", vl2wire.NetworkIDString(r.NetworkID), groupString(r.Group))
		}
		f["groups"] = groups
		return fmt.Sprintf("%d groups: %s", len(groups), strings.Join(groups, " "))
	case *vl2wire.MulticastGather:
		f["flags"], f["group"], f["limit"], f["has_com"] = v.Flags, groupString(v.Group), v.Limit, v.COM != nil
		return fmt.Sprintf("nwid %s group %s limit %d%s", hex64(v.NetworkID), groupString(v.Group), v.Limit, comNote(v.COM != nil))
	case *vl2wire.MulticastFrame:
		f["flags"], f["group"], f["has_com"] = v.Flags, groupString(v.Group), v.COM != nil
		text := fmt.Sprintf("nwid %s flags %02x group %s", hex64(v.NetworkID), v.Flags, groupString(v.Group))
		if v.Flags&vl2wire.MulticastFlagGatherLimit != 0 {
			f["gather_limit"] = v.GatherLimit
			text += fmt.Sprintf(" gather %d", v.GatherLimit)
		}
		rec.Inner, f["frame"] = summarizeFrame(v.EtherType, v.Payload)
		return text
	case *vl2wire.NetworkConfigRequest:
		f["metadata_length"] = len(v.Metadata)
		text := fmt.Sprintf("nwid %s", hex64(v.NetworkID))
		if d, err := vl2wire.ParseDictionary(v.Metadata); err == nil {
			if o, ok := d.GetString("o"); ok {
				f["os"] = o
				text += " from " + o
			}
		}
		if v.HasRevision {
			f["revision"] = v.Revision
			text += fmt.Sprintf(" have rev %d", v.Revision)
		}
		return text
	case *vl2wire.ConfigChunk:
		return describeChunk(v, f)
	case *vl2wire.NetworkCredentials:
		f["coms"], f["capabilities"], f["tags"] = len(v.COMs), len(v.Capabilities), len(v.Tags)
		f["revocations"], f["coos"] = len(v.Revocations), len(v.COOs)
		text := fmt.Sprintf("%d COM, %d capabilities, %d tags, %d revocations, %d COOs",
			len(v.COMs), len(v.Capabilities), len(v.Tags), len(v.Revocations), len(v.COOs))
		return text + describeCredentials(rec, v, f)
	}
	return outerVL2(m)
}

// describeVL2Reply describes the body of an OK answering a VL2 verb.
func describeVL2Reply(rec *Record, inRe wire.Verb, m *wire.VL2, f map[string]any) string {
	if m.HasNetworkID {
		f["network_id"] = hex64(m.NetworkID)
	}
	lt, ok := vl2layers.OKLayerTypeOf(inRe)
	msg, err := decodeVL2(lt, ok, m, fmt.Sprintf("no OK body for %v", inRe))
	if err != nil {
		rec.Err = err.Error()
		return outerVL2(m)
	}
	switch v := msg.(type) {
	case *vl2wire.OKMulticastGather:
		f["group"], f["total_known"], f["members"] = groupString(v.Group), v.TotalKnown, addressStrings(v.Members)
		return fmt.Sprintf("nwid %s group %s members %s (of %d)", hex64(v.NetworkID), groupString(v.Group), addressList(v.Members), v.TotalKnown)
	case *vl2wire.OKMulticastFrame:
		f["group"], f["total_known"], f["members"] = groupString(v.Group), v.TotalKnown, addressStrings(v.Members)
		return fmt.Sprintf("nwid %s group %s members %s (of %d)", hex64(v.NetworkID), groupString(v.Group), addressList(v.Members), v.TotalKnown)
	case *vl2wire.OKNetworkConfigRequest:
		return describeChunk(&v.ConfigChunk, f)
	case *vl2wire.OKExtFrame:
		return "nwid " + hex64(v.NetworkID)
	}
	return outerVL2(m)
}

// decodeVL2 decodes a VL2 payload or OK body with its layer, lt, if the
// verb has one (ok); otherwise the error names what has none.
func decodeVL2(lt gopacket.LayerType, ok bool, m *wire.VL2, none string) (wire.Message, error) {
	if !ok {
		return nil, fmt.Errorf("%w: %s", vl2wire.ErrNotVL2, none)
	}
	l, err := vl2layers.Decode(lt, m.AppendPayload(nil))
	if err != nil {
		return nil, err
	}
	return l.WireMessage(), nil
}

func describeChunk(c *vl2wire.ConfigChunk, f map[string]any) string {
	f["chunk_length"] = len(c.Chunk)
	if c.Legacy {
		return fmt.Sprintf("nwid %s legacy config, %d bytes", hex64(c.NetworkID), len(c.Chunk)) + describeConfig(c.Chunk, f)
	}
	f["update_id"], f["offset"], f["total_length"] = hex64(c.UpdateID), c.Offset, c.TotalLength
	text := fmt.Sprintf("nwid %s update %s bytes %d-%d of %d", hex64(c.NetworkID), hex64(c.UpdateID),
		c.Offset, int(c.Offset)+len(c.Chunk), c.TotalLength)
	if c.Offset == 0 && int(c.TotalLength) == len(c.Chunk) {
		text += describeConfig(c.Chunk, f)
	}
	return text
}

func outerVL2(m *wire.VL2) string {
	if !m.HasNetworkID {
		return fmt.Sprintf("%d bytes", len(m.Body))
	}
	return fmt.Sprintf("nwid %s, %d bytes", hex64(m.NetworkID), len(m.Body))
}

func groupString(g vl2wire.MulticastGroup) string { return fmt.Sprintf("%s/%08x", g.MAC, g.ADI) }

func comNote(has bool) string {
	if has {
		return " +COM"
	}
	return ""
}

// describeConfig summarizes a whole config dictionary: what a member would
// apply. Chunks of a config cut in several pieces are not reassembled here
// (the description of one packet has no state), so only single-chunk
// configs, which is what 1.14.1 controllers send in practice, are shown.
func describeConfig(dict []byte, f map[string]any) string {
	c, err := vl2wire.ParseNetworkConfigBytes(dict)
	if err != nil {
		f["config_error"] = err.Error()
		return " (config does not parse)"
	}
	ips := make([]string, len(c.StaticIPs))
	for i, p := range c.StaticIPs {
		ips[i] = p.String()
	}
	routes := make([]string, len(c.Routes))
	for i, r := range c.Routes {
		routes[i] = r.Target.String()
		if r.Via.IsValid() {
			routes[i] += " via " + r.Via.String()
		}
	}
	rules, _ := vl2wire.CountRules(c.Rules)
	f["name"], f["issued_to"], f["revision"], f["timestamp"] = c.Name, c.IssuedTo.String(), c.Revision, c.Timestamp
	f["static_ips"], f["routes"], f["rule_count"], f["mtu"], f["flags"] = ips, routes, rules, c.MTU, c.Flags
	kind := "private"
	if c.IsPublic() {
		kind = "public"
	}
	return fmt.Sprintf(": %s network %q rev %d for %s, IPs [%s], routes [%s], %d rules, mtu %d",
		kind, c.Name, c.Revision, c.IssuedTo, strings.Join(ips, " "), strings.Join(routes, ", "), rules, c.MTU)
}

// describeCredentials lists every credential of a NETWORK_CREDENTIALS: its
// type, ID, holder (or target) and timestamp (or threshold).
func describeCredentials(rec *Record, m *vl2wire.NetworkCredentials, f map[string]any) string {
	caps, tags, revs, coos, err := m.Decode()
	if err != nil {
		rec.Err = err.Error()
		return ""
	}
	var list []map[string]any
	var parts []string
	add := func(text string, fields map[string]any) {
		parts, list = append(parts, text), append(list, fields)
	}
	for _, c := range m.COMs {
		add(fmt.Sprintf("COM nwid %s to %s ts %d", hex64(c.NetworkID()), c.IssuedTo(), c.Timestamp()),
			map[string]any{"type": "COM", "network_id": hex64(c.NetworkID()), "issued_to": c.IssuedTo().String(), "timestamp": c.Timestamp()})
	}
	for _, c := range caps {
		add(fmt.Sprintf("capability %d to %s ts %d (%d rules)", c.ID, c.IssuedTo(), c.Timestamp, c.RuleCount),
			map[string]any{"type": "capability", "id": c.ID, "network_id": hex64(c.NetworkID), "issued_to": c.IssuedTo().String(),
				"timestamp": c.Timestamp, "rule_count": c.RuleCount})
	}
	for _, t := range tags {
		add(fmt.Sprintf("tag %d=%d to %s ts %d", t.ID, t.Value, t.IssuedTo, t.Timestamp),
			map[string]any{"type": "tag", "id": t.ID, "value": t.Value, "network_id": hex64(t.NetworkID),
				"issued_to": t.IssuedTo.String(), "timestamp": t.Timestamp})
	}
	for _, r := range revs {
		add(fmt.Sprintf("revocation %08x of %s %d target %s threshold %d flags %x", r.ID, credentialTypeName(r.Type), r.CredentialID, r.Target, r.Threshold, r.Flags),
			map[string]any{"type": "revocation", "id": r.ID, "network_id": hex64(r.NetworkID), "revokes": credentialTypeName(r.Type),
				"credential_id": r.CredentialID, "target": r.Target.String(), "threshold": r.Threshold, "flags": r.Flags})
	}
	for _, c := range coos {
		owns := thingStrings(c.Things)
		add(fmt.Sprintf("COO %d to %s ts %d owns [%s]", c.ID, c.IssuedTo, c.Timestamp, strings.Join(owns, " ")),
			map[string]any{"type": "COO", "id": c.ID, "network_id": hex64(c.NetworkID), "issued_to": c.IssuedTo.String(),
				"timestamp": c.Timestamp, "things": owns})
	}
	if len(list) == 0 {
		return ""
	}
	f["credentials"] = list
	return ": " + strings.Join(parts, "; ")
}

func credentialTypeName(t uint8) string {
	switch t {
	case vl2wire.CredentialCOM:
		return "COM"
	case vl2wire.CredentialCapability:
		return "capability"
	case vl2wire.CredentialTag:
		return "tag"
	case vl2wire.CredentialCOO:
		return "COO"
	case vl2wire.CredentialRevocation:
		return "revocation"
	}
	return fmt.Sprintf("type %d", t)
}

// thingStrings prints what a COO owns: IPs and MACs as usual, anything else
// as type:hex.
func thingStrings(things []vl2wire.Thing) []string {
	out := make([]string, len(things))
	for i, t := range things {
		switch t.Type {
		case vl2wire.ThingIPv4:
			out[i] = netip.AddrFrom4([4]byte(t.Value[:4])).String()
		case vl2wire.ThingIPv6:
			out[i] = netip.AddrFrom16(t.Value).String()
		case vl2wire.ThingMAC:
			out[i] = vl2wire.MACFromBytes(t.Value[:]).String()
		default:
			out[i] = fmt.Sprintf("%d:%x", t.Type, t.Value)
		}
	}
	return out
}
