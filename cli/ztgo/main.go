// Command ztgo is a ZeroTier-compatible peer-to-peer virtual Ethernet; the
// commands live in package cli so tests can run them in process.
package main

import (
	"os"

	"github.com/ztgo/ztgo/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Stdout, os.Stderr))
}
