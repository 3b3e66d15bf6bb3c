package vl2wire

import (
	"bytes"
)

// DictEntry is one key=value line of a Dictionary. Value is unescaped.
type DictEntry struct {
	Key   string
	Value []byte
	raw   []byte // the value as it was encoded, reused by Append while it still decodes to Value
}

// Dictionary is ZeroTier's key=value text format, in line order (vl2.md
// §3.1). Duplicate keys are allowed; lookups return the first.
type Dictionary []DictEntry

// ParseDictionary decodes a dictionary without a terminating NUL.
//
// Lines are separated by single LFs; every line needs a '=' (the key is
// what precedes the first one). Values are unescaped as the reference
// reader does: a backslash takes the next byte, mapping r, n, 0 and e to CR,
// LF, NUL and '=' and any other byte to itself, and a final lone backslash is
// dropped. Input that Append could not give back byte for byte — a NUL or
// CR, an empty line (including a trailing LF), a line without '=' — is
// ErrMalformed; the reference would skip or stop at such bytes, and no
// 1.14.1 writer produces them.
func ParseDictionary(b []byte) (Dictionary, error) {
	r := newReader(b, "dictionary")
	var d Dictionary
	for start := 0; start <= len(b) && len(b) > 0; {
		end := bytes.IndexByte(b[start:], '\n')
		if end < 0 {
			end = len(b)
		} else {
			end += start
		}
		line := b[start:end:end]
		switch {
		case len(line) == 0:
			r.Fail("empty line at offset %d", start)
		case bytes.IndexByte(line, 0) >= 0:
			r.Fail("NUL at offset %d", start+bytes.IndexByte(line, 0))
		case bytes.IndexByte(line, '\r') >= 0:
			r.Fail("unescaped CR at offset %d", start+bytes.IndexByte(line, '\r'))
		case bytes.IndexByte(line, '=') < 0:
			r.Fail("line at offset %d has no '='", start)
		}
		if r.Err() != nil {
			return nil, r.Err()
		}
		eq := bytes.IndexByte(line, '=')
		raw := line[eq+1:]
		d = append(d, DictEntry{Key: string(line[:eq]), Value: unescapeDictValue(raw), raw: raw})
		start = end + 1
	}
	return d, nil
}

func unescapeDictValue(raw []byte) []byte {
	v := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			v = append(v, c)
			continue
		}
		if i++; i == len(raw) {
			break
		}
		switch c = raw[i]; c {
		case 'r':
			c = '\r'
		case 'n':
			c = '\n'
		case '0':
			c = 0
		case 'e':
			c = '='
		}
		v = append(v, c)
	}
	return v
}

func appendEscapedDictValue(b, v []byte) []byte {
	for _, c := range v {
		switch c {
		case 0:
			b = append(b, '\\', '0')
		case '\r':
			b = append(b, '\\', 'r')
		case '\n':
			b = append(b, '\\', 'n')
		case '\\':
			b = append(b, '\\', '\\')
		case '=':
			b = append(b, '\\', 'e')
		default:
			b = append(b, c)
		}
	}
	return b
}

// Append appends the encoded dictionary, no trailing LF or NUL. Values read
// by ParseDictionary keep their original escaping unless changed; others
// are escaped as 1.14.1 does (NUL, CR, LF, backslash and '='). Keys are
// written as they are and must not contain '=', CR, LF or NUL.
func (d Dictionary) Append(b []byte) []byte {
	for i, e := range d {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(append(b, e.Key...), '=')
		if e.raw != nil && bytes.Equal(unescapeDictValue(e.raw), e.Value) {
			b = append(b, e.raw...)
		} else {
			b = appendEscapedDictValue(b, e.Value)
		}
	}
	return b
}

// Get returns the value of the first entry named key.
func (d Dictionary) Get(key string) ([]byte, bool) {
	for _, e := range d {
		if e.Key == key {
			return e.Value, true
		}
	}
	return nil, false
}

// GetString returns Get's value as a string.
func (d Dictionary) GetString(key string) (string, bool) {
	v, ok := d.Get(key)
	return string(v), ok
}

// dictNumberMax is how much of a value the reference reads for a number: it
// copies the value into a 128-byte buffer first.
const dictNumberMax = 127

// GetUint64 reads a hex integer the way the reference does (strtoull base
// 16 on at most the first 127 bytes: optional leading space, sign and 0x,
// digits up to the first non-hex byte, saturating on overflow). ok is false
// when the key is missing or its value empty, where the reference uses its
// default.
func (d Dictionary) GetUint64(key string) (uint64, bool) {
	v, ok := d.Get(key)
	if !ok || len(v) == 0 {
		return 0, false
	}
	return Strtoull(v[:min(len(v), dictNumberMax)], 16), true
}

// GetBool is true when the value starts with '1', 't' or 'T'; ok is false
// when the key is missing.
func (d Dictionary) GetBool(key string) (value, ok bool) {
	v, ok := d.Get(key)
	if !ok {
		return false, false
	}
	return len(v) > 0 && (v[0] == '1' || v[0] == 't' || v[0] == 'T'), true
}

// Add appends key=value.
func (d *Dictionary) Add(key string, value []byte) {
	*d = append(*d, DictEntry{Key: key, Value: value})
}

// AddString appends a text value.
func (d *Dictionary) AddString(key, value string) { d.Add(key, []byte(value)) }

// AddUint64 appends an integer as 16 lower-case hex digits, as 1.14.1
// writes them.
func (d *Dictionary) AddUint64(key string, value uint64) {
	const digits = "0123456789abcdef"
	var buf [16]byte
	for i := 15; i >= 0; i-- {
		buf[i] = digits[value&0xf]
		value >>= 4
	}
	d.Add(key, buf[:])
}

// AddBool appends "1" or "0".
func (d *Dictionary) AddBool(key string, value bool) {
	if value {
		d.Add(key, []byte{'1'})
	} else {
		d.Add(key, []byte{'0'})
	}
}
