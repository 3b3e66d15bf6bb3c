package rules

import (
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ztgo/ztgo/layer2-vl2/vl2wire"
)

// The controller reads rule fields leniently (OSUtils::jsonInt, jsonBool,
// jsonString, Utils::hexStrToU64, InetAddress::fromString). These helpers
// reproduce those readers on values as encoding/json decodes them (float64,
// json.Number, string, bool, nil) and on Go integers, so that a rule read
// here means what the reference controller would make of it.

// jsonInt is OSUtils::jsonInt: numbers converted to u64 (negative ones wrap),
// strings as strtoull base 10, booleans 0/1, anything else dfl.
func jsonInt(v any, dfl uint64) uint64 {
	switch x := v.(type) {
	case float64:
		return floatToU64(x)
	case float32:
		return floatToU64(float64(x))
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return uint64(i)
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u
		}
		if f, err := x.Float64(); err == nil {
			return floatToU64(f)
		}
		return dfl
	case int:
		return uint64(x)
	case int8:
		return uint64(x)
	case int16:
		return uint64(x)
	case int32:
		return uint64(x)
	case int64:
		return uint64(x)
	case uint:
		return uint64(x)
	case uint8:
		return uint64(x)
	case uint16:
		return uint64(x)
	case uint32:
		return uint64(x)
	case uint64:
		return x
	case string:
		return vl2wire.Strtoull(x, 10)
	case bool:
		if x {
			return 1
		}
		return 0
	}
	return dfl
}

// isNumber reports whether v is a JSON number (nlohmann's is_number).
func isNumber(v any) bool {
	switch v.(type) {
	case float64, float32, json.Number, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return true
	}
	return false
}

// floatToU64 is a C++ double to uint64_t conversion as x86-64 compilers do
// it: truncation, negative values through int64 (so -1 becomes 2^64-1).
func floatToU64(f float64) uint64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f < 0:
		if f <= math.MinInt64 {
			return 1 << 63
		}
		return uint64(int64(f))
	case f >= math.MaxUint64:
		return math.MaxUint64
	}
	return uint64(f)
}

// jsonBool is OSUtils::jsonBool: booleans, numbers > 0, strings starting
// with t, T or 1; anything else dfl.
func jsonBool(v any, dfl bool) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x != "" && (x[0] == 't' || x[0] == 'T' || x[0] == '1')
	}
	if isNumber(v) {
		return jsonInt(v, 0) > 0
	}
	return dfl
}

// jsonString is OSUtils::jsonString: strings as they are, numbers in
// decimal (as u64), booleans "1"/"0", anything else dfl.
func jsonString(v any, dfl string) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "1"
		}
		return "0"
	}
	if isNumber(v) {
		return strconv.FormatUint(jsonInt(v, 0), 10)
	}
	return dfl
}

// hexStrToU64 is Utils::hexStrToU64 (strtoull base 16).
func hexStrToU64(s string) uint64 { return vl2wire.Strtoull(s, 16) }

// macFromString is the controller's MAC reading: '-' and ':' removed
// (Utils::cleanMac), then Utils::unhex: characters taken in pairs, a
// non-hex character counting as 0, stopping at the end, a NUL or 6 bytes.
func macFromString(s string) uint64 {
	s = strings.NewReplacer("-", "", ":", "").Replace(s)
	var mac [6]byte
	for n := 0; n < 6 && 2*n+1 < len(s); n++ {
		hi, lo := s[2*n], s[2*n+1]
		if hi == 0 || lo == 0 {
			break
		}
		mac[n] = byte(max(vl2wire.HexDigit(hi), 0)<<4 | max(vl2wire.HexDigit(lo), 0))
	}
	return uint64(mac[0])<<40 | uint64(mac[1])<<32 | uint64(mac[2])<<24 |
		uint64(mac[3])<<16 | uint64(mac[4])<<8 | uint64(mac[5])
}

// inetFamily is what InetAddress::fromString decided a string is.
type inetFamily int

const (
	inetNone inetFamily = iota
	inet4
	inet6
)

// inetFromString is InetAddress::fromString on "ip/port": the family is
// IPv6 if the address part has a ':', IPv4 if it has a '.', else none (and
// port 0). An address inet_pton rejects reads as all zeros; the port is
// strtoul of what follows the '/', modulo 2^16.
func inetFromString(s string) (fam inetFamily, ip netip.Addr, port uint16) {
	if s == "" || len(s) >= 64 { // empty: nil address; too long: scopy fails
		return inetNone, netip.Addr{}, 0
	}
	if i := strings.IndexByte(s, 0); i >= 0 { // a C string ends at NUL
		s = s[:i]
	}
	addr := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		addr = s[:i]
		port = uint16(vl2wire.Strtoull(s[i+1:], 10))
	}
	switch {
	case strings.IndexByte(addr, ':') >= 0:
		a, err := netip.ParseAddr(addr)
		if err != nil || !a.Is6() || a.Zone() != "" {
			a = netip.IPv6Unspecified()
		}
		return inet6, a, port
	case strings.IndexByte(addr, '.') >= 0:
		a, err := netip.ParseAddr(addr)
		if err != nil || !a.Is4() {
			a = netip.IPv4Unspecified()
		}
		return inet4, a, port
	}
	return inetNone, netip.Addr{}, 0
}

// formatIP is inet_ntop as glibc prints: like netip, except that an address
// whose first 96 bits are zero and next 16 are not is written ::a.b.c.d.
func formatIP(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		b := a.As16()
		zero := true
		for _, x := range b[:12] {
			zero = zero && x == 0
		}
		if zero && (b[12] != 0 || b[13] != 0) {
			return "::" + netip.AddrFrom4([4]byte(b[12:])).String()
		}
	}
	return a.String()
}
