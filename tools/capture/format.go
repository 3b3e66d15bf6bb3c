package capture

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteText writes rec as one human-readable line.
func WriteText(w io.Writer, rec *Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%11.6f  ", rec.Rel.Seconds())
	switch rec.Kind {
	case KindOther:
		fmt.Fprintf(&b, "other  %s", rec.Note)
		if rec.UDPSource.IsValid() {
			fmt.Fprintf(&b, "  [%s → %s]", rec.UDPSource, rec.UDPDest)
		}
		b.WriteByte('\n')
		_, err := io.WriteString(w, b.String())
		return err
	case KindFragment:
		fmt.Fprintf(&b, "%-10s → %s  fragment %d/%d  id %016x", "", rec.Destination, rec.FragmentNumber, rec.FragmentTotal, rec.PacketID)
	default:
		fmt.Fprintf(&b, "%s → %s  %s  %s", rec.Source, rec.Destination, rec.Kind, rec.Cipher)
		if rec.Verdict != "" {
			fmt.Fprintf(&b, "  %s", rec.Verdict)
		}
		if rec.HasVerb && rec.Kind != KindHead && rec.Kind != KindIncomplete {
			fmt.Fprintf(&b, "  %s", rec.Verb)
			if rec.Compressed {
				b.WriteString(" (lz4)")
			}
		} else {
			fmt.Fprintf(&b, "  id %016x", rec.PacketID)
		}
		if rec.Text != "" {
			fmt.Fprintf(&b, " %s", rec.Text)
		}
		if rec.Inner != "" {
			fmt.Fprintf(&b, ": %s", rec.Inner)
		}
	}
	if rec.Hops > 0 {
		fmt.Fprintf(&b, "  hops %d", rec.Hops)
	}
	if rec.Err != "" {
		fmt.Fprintf(&b, "  ERROR: %s", rec.Err)
	}
	fmt.Fprintf(&b, "  [%s → %s]\n", rec.UDPSource, rec.UDPDest)
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonRecord is the JSON form of a Record: one object per line.
type jsonRecord struct {
	File       string         `json:"file,omitempty"`
	Frame      int            `json:"frame"`
	Time       string         `json:"time"`
	Rel        float64        `json:"rel"`
	UDPSource  string         `json:"udp_src,omitempty"`
	UDPDest    string         `json:"udp_dst,omitempty"`
	Length     int            `json:"length,omitempty"`
	Kind       string         `json:"kind"`
	Note       string         `json:"note,omitempty"`
	Source     string         `json:"src,omitempty"`
	Dest       string         `json:"dst,omitempty"`
	PacketID   string         `json:"packet_id,omitempty"`
	Fragment   string         `json:"fragment,omitempty"`
	Hops       int            `json:"hops"`
	Cipher     *int           `json:"cipher,omitempty"`
	CipherName string         `json:"cipher_name,omitempty"`
	Verdict    string         `json:"verdict,omitempty"`
	Verb       string         `json:"verb,omitempty"`
	Compressed bool           `json:"compressed,omitempty"`
	Text       string         `json:"text,omitempty"`
	Fields     map[string]any `json:"fields,omitempty"`
	Inner      string         `json:"inner,omitempty"`
	Error      string         `json:"error,omitempty"`
}

// WriteJSON writes rec as one JSON object and a newline.
func WriteJSON(w io.Writer, rec *Record) error {
	j := jsonRecord{
		File: rec.File, Frame: rec.Frame, Time: rec.Time.UTC().Format("2006-01-02T15:04:05.000000Z"),
		Rel: rec.Rel.Seconds(), Length: rec.Length, Kind: rec.Kind, Note: rec.Note, Hops: rec.Hops,
		Verdict: rec.Verdict, Compressed: rec.Compressed, Text: rec.Text, Fields: rec.Fields,
		Inner: rec.Inner, Error: rec.Err,
	}
	if rec.UDPSource.IsValid() {
		j.UDPSource, j.UDPDest = rec.UDPSource.String(), rec.UDPDest.String()
	}
	if rec.Kind != KindOther {
		j.Dest, j.PacketID = rec.Destination.String(), hex64(rec.PacketID)
		if rec.Kind == KindFragment {
			j.Fragment = fmt.Sprintf("%d/%d", rec.FragmentNumber, rec.FragmentTotal)
		} else {
			j.Source = rec.Source.String()
			c := int(rec.Cipher)
			j.Cipher, j.CipherName = &c, rec.Cipher.String()
		}
	}
	if rec.HasVerb && rec.Kind != KindHead {
		j.Verb = rec.Verb.String()
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteSummaryText writes the closing summary.
func WriteSummaryText(w io.Writer, s Summary) error {
	verbs := make([]string, 0, len(s.Verbs))
	for v := range s.Verbs {
		verbs = append(verbs, v)
	}
	sort.Slice(verbs, func(i, j int) bool {
		if s.Verbs[verbs[i]] != s.Verbs[verbs[j]] {
			return s.Verbs[verbs[i]] > s.Verbs[verbs[j]]
		}
		return verbs[i] < verbs[j]
	})
	var b strings.Builder
	fmt.Fprintf(&b, "\npackets %d, fragments %d, authenticated %d, no_key %d, failed %d, other %d\n",
		s.Packets, s.Fragments, s.Authenticated, s.NoKey, s.Failed, s.Other)
	for _, v := range verbs {
		fmt.Fprintf(&b, "  %-24s %d\n", v, s.Verbs[v])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSummaryJSON writes {"summary":{...}} and a newline.
func WriteSummaryJSON(w io.Writer, s Summary) error {
	if s.Verbs == nil {
		s.Verbs = map[string]int{}
	}
	b, err := json.Marshal(struct {
		Summary Summary `json:"summary"`
	}{s})
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
