package world

import (
	_ "embed"
)

// EarthID is the ID of ZeroTier's planet (ZT_WORLD_ID_EARTH).
const EarthID = 149604618

//go:embed default.planet
var defaultPlanet []byte

// Default returns ZeroTier's public planet as compiled into 1.14.1. A
// `planet` file in a node's home directory replaces it.
func Default() *World {
	w, _, err := Decode(defaultPlanet)
	if err != nil {
		panic("world: embedded planet does not decode: " + err.Error())
	}
	return w
}
