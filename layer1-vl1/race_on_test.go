//go:build race

package vl1_test

const raceEnabled = true
