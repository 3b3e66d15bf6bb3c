package vl2wire

import (
	"fmt"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// ErrorBody is what follows the code of an ERROR about a VL2 matter: the
// network ID, then the group for UNWANTED_MULTICAST or an optional
// u16-counted auth info dictionary for NETWORK_AUTHENTICATION_REQUIRED
// (vl2.md §2.9).
type ErrorBody struct {
	Code        wire.ErrorCode
	NetworkID   uint64
	Group       MulticastGroup // UNWANTED_MULTICAST
	HasAuthInfo bool           // NETWORK_AUTHENTICATION_REQUIRED with a dictionary
	AuthInfo    []byte         // the dictionary; see ParseDictionary
	Trailing    []byte         // ignored by receivers
}

// IsVL2ErrorCode reports whether code carries a network ID body.
func IsVL2ErrorCode(code wire.ErrorCode) bool {
	switch code {
	case wire.ErrorObjectNotFound, wire.ErrorUnsupportedOperation, wire.ErrorNeedMembershipCert,
		wire.ErrorNetworkAccessDenied, wire.ErrorUnwantedMulticast, wire.ErrorNetworkAuthRequired:
		return true
	}
	return false
}

// ParseErrorBody decodes the bytes after the error code (wire.Error.Body).
// Codes without a VL2 body give ErrNotVL2. AuthInfo aliases the input.
func ParseErrorBody(code wire.ErrorCode, body []byte) (*ErrorBody, error) {
	if !IsVL2ErrorCode(code) {
		return nil, fmt.Errorf("%w: ERROR code %v", ErrNotVL2, code)
	}
	r := newReader(body, "ERROR("+code.String()+")")
	e := &ErrorBody{Code: code, NetworkID: r.U64("network ID")}
	switch code {
	case wire.ErrorUnwantedMulticast:
		e.Group = r.group("group MAC", "group ADI")
	case wire.ErrorNetworkAuthRequired:
		if r.Err() == nil && r.Left() > 0 {
			e.HasAuthInfo = true
			e.AuthInfo = r.Take(int(r.U16("auth info length")), "auth info dictionary")
		}
	}
	e.Trailing = r.Rest()
	if r.Err() != nil {
		return nil, r.Err()
	}
	return e, nil
}

// Append appends the body (without the in-re verb, packet ID and code).
func (e *ErrorBody) Append(b []byte) []byte {
	b = appendU64(b, e.NetworkID)
	switch e.Code {
	case wire.ErrorUnwantedMulticast:
		b = e.Group.Append(b)
	case wire.ErrorNetworkAuthRequired:
		if e.HasAuthInfo {
			b = append(appendU16(b, uint16(len(e.AuthInfo))), e.AuthInfo...)
		}
	}
	return append(b, e.Trailing...)
}
