//go:build !linux

package cli

// tapProblem: elsewhere the device drivers report their own failures.
func tapProblem() string { return "" }
