package vl2wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestCOM(t *testing.T) {
	za := loadIdentity(t, "za")
	ctl := loadIdentity(t, "controller")
	c := labCOM(t, za)
	b := c.Append(nil)
	if len(b) != 272 || c.Len() != 272 {
		t.Fatalf("controller-issued COM is %d bytes (Len %d), spec says 272", len(b), c.Len())
	}
	if c.NetworkID() != labNetwork || c.IssuedTo() != labZA || c.Timestamp() != labTimestamp || c.SignedBy != labController {
		t.Errorf("accessors: %016x %v %d %v", c.NetworkID(), c.IssuedTo(), c.Timestamp(), c.SignedBy)
	}
	if len(c.SigningMessage()) != 7*24 || !bytes.Equal(c.SigningMessage(), b[3:3+7*24]) {
		t.Error("signing message is not the qualifier bytes")
	}
	back, n, err := ParseCOM(append(bytes.Clone(b), 0xaa))
	if err != nil || n != 272 {
		t.Fatalf("ParseCOM: %d %v", n, err)
	}
	if !back.Verify(ctl) {
		t.Fatal("lab COM does not verify with the controller identity")
	}
	if back.Verify(za) || back.Verify(nil) {
		t.Error("verifies with the wrong identity")
	}
	tampered := *back
	tampered.Qualifiers = append([]Qualifier(nil), back.Qualifiers...)
	tampered.Qualifiers[0].Value++
	if tampered.Verify(ctl) {
		t.Error("verifies after changing the timestamp")
	}
	unsigned := &COM{Qualifiers: back.Qualifiers}
	if unsigned.Verify(ctl) || unsigned.Len() != 272-96 {
		t.Error("unsigned COM")
	}
	// Signed by the controller but naming another network: refused.
	other := &COM{Qualifiers: []Qualifier{{QualifierNetworkID, 0x1111111111000001, 0}}}
	if err := other.Sign(ctl); err != nil || other.Verify(ctl) {
		t.Errorf("COM for a network of another controller verifies (%v)", err)
	}
}

func TestParseCOMRejects(t *testing.T) {
	tests := map[string]string{
		"empty":             ``,
		"wrong type":        `02 0000 0000000000`,
		"nine qualifiers":   `01 0009`,
		"decreasing ids":    `01 0002 0000000000000002 0000000000000000 0000000000000000 0000000000000001 0000000000000000 0000000000000000 0000000000`,
		"short signer":      `01 0000 00000000`,
		"missing signature": `01 0000 6a65e33cf6 00`,
	}
	for name, in := range tests {
		if _, _, err := ParseCOM(hx(t, in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Equal IDs are allowed (non-decreasing).
	if _, _, err := ParseCOM(hx(t, `01 0002
		0000000000000001 0000000000000000 0000000000000000
		0000000000000001 0000000000000000 0000000000000000
		0000000000`)); err != nil {
		t.Errorf("equal IDs: %v", err)
	}
}
