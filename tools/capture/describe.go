package capture

import (
	"fmt"
	"strings"

	transport "github.com/ztgo/ztgo/layer0-transport"
	"github.com/ztgo/ztgo/layer1-vl1/identity"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// describe fills rec.Text and rec.Fields from a decoded message.
func describe(rec *Record, msg wire.Message) {
	f := map[string]any{}
	var text string
	switch m := msg.(type) {
	case *wire.Hello:
		text = describeHello(m, f)
	case *wire.OK:
		text = describeOK(rec, m, f)
	case *wire.Error:
		f["in_re_verb"], f["in_re_packet_id"], f["code"] = m.InReVerb.String(), hex64(m.InReID), m.Code.String()
		text = fmt.Sprintf("re %v %s %v", m.InReVerb, hex64(m.InReID), m.Code)
		if nwid, ok := m.NetworkID(); ok {
			f["network_id"] = hex64(nwid)
			text += " nwid " + hex64(nwid)
		}
	case *wire.Whois:
		addrs := make([]string, len(m.Addresses))
		for i, a := range m.Addresses {
			addrs[i] = a.String()
		}
		f["addresses"] = addrs
		text = strings.Join(addrs, " ")
	case *wire.Rendezvous:
		f["with"], f["endpoint"] = m.With.String(), transport.FormatAddrPort(m.Endpoint)
		text = fmt.Sprintf("with %s at %s", m.With, transport.FormatAddrPort(m.Endpoint))
	case *wire.Echo:
		f["length"] = len(m.Data)
		text = fmt.Sprintf("%d bytes", len(m.Data))
	case *wire.PushDirectPaths:
		paths := make([]string, 0, len(m.Paths))
		for _, p := range m.Paths {
			s := transport.FormatAddrPort(p.Endpoint)
			if p.Flags&wire.PathFlagForget != 0 {
				s += " (forget)"
			}
			paths = append(paths, s)
		}
		f["paths"] = paths
		text = fmt.Sprintf("%d paths: %s", len(paths), strings.Join(paths, ", "))
	case *wire.UserMessage:
		f["type_id"], f["length"] = m.TypeID, len(m.Data)
		text = fmt.Sprintf("type %d, %d bytes", m.TypeID, len(m.Data))
	case *wire.RemoteTrace:
		f["traces"] = len(m.Traces())
		text = fmt.Sprintf("%d traces", len(m.Traces()))
	case *wire.QoSMeasurement:
		f["records"] = len(m.Records)
		text = fmt.Sprintf("%d samples", len(m.Records))
	case *wire.PathNegotiation:
		f["utility"] = m.Utility
		text = fmt.Sprintf("utility %d", m.Utility)
	case *wire.VL2:
		text = describeVL2(rec, m, f)
	}
	rec.Text, rec.Fields = text, f
}

func describeHello(m *wire.Hello, f map[string]any) string {
	f["protocol"] = m.ProtocolVersion
	f["version"] = fmt.Sprintf("%d.%d.%d", m.Major, m.Minor, m.Revision)
	f["timestamp"] = m.Timestamp
	f["identity"] = m.Identity.String()
	text := fmt.Sprintf("proto %d ver %d.%d.%d id %s", m.ProtocolVersion, m.Major, m.Minor, m.Revision, m.Identity.Address())
	if m.HasDestination {
		f["physical_destination"] = transport.FormatAddrPort(m.PhysicalDestination)
		text += " to " + transport.FormatAddrPort(m.PhysicalDestination)
	}
	if m.HasWorld {
		f["planet_id"], f["planet_timestamp"] = m.PlanetID, m.PlanetTimestamp
		text += fmt.Sprintf(" planet %d@%d", m.PlanetID, m.PlanetTimestamp)
	}
	if len(m.Moons) > 0 {
		moons := make([]string, len(m.Moons))
		for i, mo := range m.Moons {
			moons[i] = fmt.Sprintf("%016x@%d", mo.ID, mo.Timestamp)
		}
		f["moons"] = moons
		text += " moons " + strings.Join(moons, ",")
	}
	return text
}

func describeOK(rec *Record, m *wire.OK, f map[string]any) string {
	f["in_re_verb"], f["in_re_packet_id"] = m.InReVerb.String(), hex64(m.InReID)
	text := fmt.Sprintf("re %v %s", m.InReVerb, hex64(m.InReID))
	switch r := m.Reply.(type) {
	case *wire.OKHello:
		f["protocol"] = r.ProtocolVersion
		f["version"] = fmt.Sprintf("%d.%d.%d", r.Major, r.Minor, r.Revision)
		f["timestamp"] = r.Timestamp
		text += fmt.Sprintf(" proto %d ver %d.%d.%d", r.ProtocolVersion, r.Major, r.Minor, r.Revision)
		if r.HasSource {
			f["physical_source"] = transport.FormatAddrPort(r.PhysicalSource)
			text += " sees " + transport.FormatAddrPort(r.PhysicalSource)
		}
		if len(rec.Worlds) > 0 {
			f["worlds"] = rec.Worlds
			text += " worlds: " + strings.Join(rec.Worlds, ", ")
		}
	case *wire.OKWhois:
		ids := make([]string, len(r.Identities))
		addrs := make([]string, len(r.Identities))
		for i, id := range r.Identities {
			ids[i], addrs[i] = id.String(), id.Address().String()
		}
		f["identities"] = ids
		text += " " + strings.Join(addrs, " ")
	case *wire.Echo:
		f["length"] = len(r.Data)
	case *wire.VL2:
		text += " " + describeVL2Reply(rec, m.InReVerb, r, f)
	}
	return text
}

func hex64(v uint64) string { return fmt.Sprintf("%016x", v) }

func addressStrings(as []identity.Address) []string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return s
}

// addressList prints addresses separated by spaces.
func addressList(as []identity.Address) string {
	return strings.Join(addressStrings(as), " ")
}
