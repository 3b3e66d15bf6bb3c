package tap

import "testing"

func TestName(t *testing.T) {
	if got := Name(0x8056c2e21c000001, 0); got != "ztmjfmfyq5" {
		t.Fatalf("Name = %s, want ztmjfmfyq5 (service-api.md §13.2)", got)
	}
	if Name(0x8056c2e21c000001, 1) == Name(0x8056c2e21c000001, 0) {
		t.Fatal("trial does not change the name")
	}
}

func TestBSDName(t *testing.T) {
	if got := BSDName(0x8056c2e21c000001); got != "zt80lm2s8e00001" {
		t.Fatalf("BSDName = %s, want zt80lm2s8e00001 (service-api.md §13.2)", got)
	}
}
