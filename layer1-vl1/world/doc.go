// Package world is ZeroTier's world format: the signed list of root servers
// that is the planet every node uses and the moons users add (spec roots.md).
// It decodes, encodes, signs and verifies worlds, decides whether an update
// replaces a world, builds worlds from the JSON that zerotier-idtool's
// genmoon (and the lab's mkworld) read, and embeds ZeroTier's own planet.
//
// It imports identity and wire (for InetAddress) from this module.
package world
