package vl2wire

import "fmt"

// Decode decodes the credentials NETWORK_CREDENTIALS carries as raw bytes.
// ParseNetworkCredentials has already measured each one, so an error here
// means a credential the measuring pass accepted but the full decoder does
// not; a receiver drops the whole packet then, as 1.14.1 does on any
// malformed credential.
func (n *NetworkCredentials) Decode() (caps []*Capability, tags []*Tag, revs []*Revocation, coos []*COO, err error) {
	if caps, err = decodeEach("capability", n.Capabilities, ParseCapability); err != nil {
		return nil, nil, nil, nil, err
	}
	if tags, err = decodeEach("tag", n.Tags, ParseTag); err != nil {
		return nil, nil, nil, nil, err
	}
	if revs, err = decodeEach("revocation", n.Revocations, ParseRevocation); err != nil {
		return nil, nil, nil, nil, err
	}
	if coos, err = decodeEach("certificate of ownership", n.COOs, ParseCOO); err != nil {
		return nil, nil, nil, nil, err
	}
	return caps, tags, revs, coos, nil
}

func decodeEach[T any](what string, raws [][]byte, parse func([]byte) (*T, int, error)) ([]*T, error) {
	if len(raws) == 0 {
		return nil, nil
	}
	out := make([]*T, 0, len(raws))
	for i, raw := range raws {
		v, _, err := parse(raw)
		if err != nil {
			return nil, fmt.Errorf("NETWORK_CREDENTIALS %s %d: %w", what, i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// AppendNetworkCredentials appends a NETWORK_CREDENTIALS payload in the
// 1.14.1 layout: the COMs, the 0x00 terminator, then all four counted
// lists. The caller keeps it under the packet size; Membership::
// pushCredentials starts a new packet (beginning with 0x00) when the next
// credential would reach 10024 − 16 bytes. Lists longer than 65535 are cut.
func AppendNetworkCredentials(b []byte, coms []*COM, caps []*Capability, tags []*Tag, revs []*Revocation, coos []*COO) []byte {
	for _, c := range coms {
		b = c.Append(b)
	}
	b = append(b, 0)
	b = appendEach(b, caps)
	b = appendEach(b, tags)
	b = appendEach(b, revs)
	return appendEach(b, coos)
}

func appendEach[T interface{ Append([]byte) []byte }](b []byte, list []T) []byte {
	list = list[:min(len(list), 0xffff)]
	b = appendU16(b, uint16(len(list)))
	for _, v := range list {
		b = v.Append(b)
	}
	return b
}
