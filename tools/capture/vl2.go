package capture

import (
	"fmt"
	"strings"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// describeVL2 describes a VL2 verb with VL2's codecs; if they refuse the
// payload the error is recorded and the outer layout is shown.
func describeVL2(rec *Record, m *wire.VL2, f map[string]any) string {
	if m.HasNetworkID {
		f["network_id"] = hex64(m.NetworkID)
	}
	msg, err := vl2wire.Parse(m.V, m.AppendPayload(nil))
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
		return fmt.Sprintf("%d COM, %d capabilities, %d tags, %d revocations, %d COOs",
			len(v.COMs), len(v.Capabilities), len(v.Tags), len(v.Revocations), len(v.COOs))
	}
	return outerVL2(m)
}

// describeVL2Reply describes the body of an OK answering a VL2 verb.
func describeVL2Reply(rec *Record, inRe wire.Verb, m *wire.VL2, f map[string]any) string {
	if m.HasNetworkID {
		f["network_id"] = hex64(m.NetworkID)
	}
	msg, err := vl2wire.ParseOKBody(inRe, m.AppendPayload(nil))
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

func describeChunk(c *vl2wire.ConfigChunk, f map[string]any) string {
	f["chunk_length"] = len(c.Chunk)
	if c.Legacy {
		return fmt.Sprintf("nwid %s legacy config, %d bytes", hex64(c.NetworkID), len(c.Chunk))
	}
	f["update_id"], f["offset"], f["total_length"] = hex64(c.UpdateID), c.Offset, c.TotalLength
	return fmt.Sprintf("nwid %s update %s bytes %d-%d of %d", hex64(c.NetworkID), hex64(c.UpdateID),
		c.Offset, int(c.Offset)+len(c.Chunk), c.TotalLength)
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
