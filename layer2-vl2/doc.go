// Package vl2 is ZeroTier's virtual layer 2: networks a node joins, their
// configs from a controller, certificates of membership and the other
// credentials, the rules engine applied to every frame, unicast frames
// and multicast (with ZeroTier's scalable ARP), between the VL1 engine below
// and a frame device (tap, userspace stack, memory) above.
//
// It imports VL1 and its own sub-packages only: never node, drivers or cli.
// It reaches the engine through Link, an interface it defines (*vl1.Node
// satisfies it), and is the engine's vl1.Upper; package node wires the two.
// Devices are reached through FrameDevice, which any driver satisfies with
// plain types, so drivers need not import this package.
package vl2
