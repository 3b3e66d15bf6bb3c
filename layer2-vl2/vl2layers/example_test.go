package vl2layers_test

import (
	"encoding/hex"
	"fmt"

	"github.com/gopacket/gopacket"

	"github.com/ztgo/ztgo/layer1-vl1/ztlayers"
	"github.com/ztgo/ztgo/layer2-vl2/vl2layers"
)

// A dearmored envelope decodes as a ztlayers.Verb; its MessagePayload then
// decodes as the VL2 layer of its verb. This is MULTICAST_LIKE from frame 46
// of captures/basic: a member subscribes to the IPv4 all-hosts group.
func Example() {
	envelope, _ := hex.DecodeString("09" + "6a65e33cf6e2a383" + "01005e000001" + "00000000")
	var verb ztlayers.Verb
	if err := verb.DecodeFromBytes(envelope, gopacket.NilDecodeFeedback); err != nil {
		panic(err)
	}
	lt, _ := vl2layers.LayerTypeOf(verb.Verb)
	p := gopacket.NewPacket(verb.MessagePayload(), lt, gopacket.Default)
	like := p.Layer(vl2layers.LayerTypeMulticastLike).(*vl2layers.MulticastLike)
	for _, r := range like.Message.Records {
		fmt.Printf("%v: %016x %v/%08x\n", lt, r.NetworkID, r.Group.MAC, r.Group.ADI)
	}
	// Output: ZeroTierMulticastLike: 6a65e33cf6e2a383 01:00:5e:00:00:01/00000000
}
