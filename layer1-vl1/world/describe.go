package world

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	transport "github.com/ztgo/ztgo/layer0-transport"
)

// Describe is a human-readable account of the world, for `ztgo world show`.
func (w *World) Describe() string {
	var b strings.Builder
	sig := "BAD (not signed by its own update key)"
	if w.VerifySelf() {
		sig = "OK (signed by its own update key)"
	}
	fmt.Fprintf(&b, "type:       %s\n", w.Type)
	fmt.Fprintf(&b, "id:         %d (%016x)\n", w.ID, w.ID)
	fmt.Fprintf(&b, "timestamp:  %d (%s)\n", w.Timestamp, time.UnixMilli(int64(w.Timestamp)).UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(&b, "update key: %s\n", hex.EncodeToString(w.UpdatesMustBeSignedBy[:]))
	fmt.Fprintf(&b, "signature:  %s\n", sig)
	fmt.Fprintf(&b, "roots:      %d\n", len(w.Roots))
	for _, r := range w.Roots {
		eps := make([]string, len(r.StableEndpoints))
		for i, ep := range r.StableEndpoints {
			eps[i] = transport.FormatAddrPort(ep)
		}
		fmt.Fprintf(&b, "  %s  %s\n", r.Identity.Address(), strings.Join(eps, " "))
	}
	return b.String()
}
