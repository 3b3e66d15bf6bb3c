//go:build !race

package vl1_test

const raceEnabled = false
