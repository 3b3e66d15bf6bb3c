// Command ztdump decodes and authenticates captured ZeroTier traffic: every
// packet between nodes whose identity secrets it is given is dearmored and
// checked, down to the Ethernet frames inside. It is a developer tool, kept
// out of the ztgo binary so that a running node does not carry pcap and
// protocol-dissector code.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	ztcli "github.com/ztgo/ztgo/cli"
	"github.com/ztgo/ztgo/layer1-vl1/wire"
	"github.com/ztgo/ztgo/layer1-vl1/world"
	"github.com/ztgo/ztgo/tools/capture"
)

func main() {
	os.Exit(ztcli.Tool(command(), os.Args, os.Stdout, os.Stderr))
}

// command decodes captures of ZeroTier traffic. Exit 1 means a packet whose
// key we hold failed to authenticate or decode; exit 2 means the input
// itself was unusable.
func command() *cli.Command {
	return &cli.Command{
		Name:      "ztdump",
		Usage:     "decode and authenticate ZeroTier packets in pcap/pcapng captures",
		ArgsUsage: "FILE.pcap...",
		Description: "With --identities, packets between nodes whose secrets are in DIR are\n" +
			"dearmored and checked; a `planet` file in DIR is used for its roots' keys.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "identities", Aliases: []string{"i"}, Usage: "directory (or file) of identity secrets", TakesFile: true},
			&cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "one JSON object per packet, summary last"},
			&cli.IntSliceFlag{Name: "port", Usage: "extra UDP ports that carry ZeroTier (9993 is always decoded)"},
		},
		Action: runDump,
	}
}

func runDump(_ context.Context, cmd *cli.Command) error {
	files := cmd.Args().Slice()
	if len(files) == 0 {
		return ztcli.Fail(ztcli.ExitUsage, "no capture given (usage: ztdump [--identities DIR] [--json] FILE.pcap...)")
	}
	opts := capture.Options{Ports: []uint16{wire.DefaultPort}}
	for _, p := range cmd.IntSlice("port") {
		if p <= 0 || p > 65535 {
			return ztcli.Fail(ztcli.ExitUsage, "--port %d is not a UDP port (want 1-65535)", p)
		}
		opts.Ports = append(opts.Ports, uint16(p))
	}
	var planet *world.World
	if dir := cmd.String("identities"); dir != "" {
		ids, err := capture.LoadIdentities(dir)
		if err != nil {
			return ztcli.Fail(ztcli.ExitUsage, "--identities: %v", err)
		}
		opts.Identities = ids
		if planet, err = loadPlanet(dir); err != nil {
			return ztcli.Fail(ztcli.ExitUsage, "--identities: %v", err)
		}
	}
	// Open every file first so a typo fails before any output.
	readers := make([]*os.File, 0, len(files))
	defer func() {
		for _, f := range readers {
			f.Close()
		}
	}()
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return ztcli.Fail(ztcli.ExitUsage, "%v", err)
		}
		readers = append(readers, f)
	}

	dec := capture.NewDecoder(opts)
	if planet != nil {
		dec.AddWorld(planet)
	}
	out := cmd.Root().Writer
	jsonOut := cmd.Bool("json")
	var werr error
	emit := func(r *capture.Record) {
		if werr != nil {
			return
		}
		if jsonOut {
			werr = capture.WriteJSON(out, r)
		} else {
			werr = capture.WriteText(out, r)
		}
	}
	for i, f := range readers {
		if err := dec.DecodeFile(files[i], f, emit); err != nil {
			if errors.Is(err, capture.ErrNotCapture) {
				return ztcli.Fail(ztcli.ExitUsage, "%v (want a pcap or pcapng file)", err)
			}
			return ztcli.Fail(ztcli.ExitUsage, "%v", err)
		}
	}
	dec.Finish(emit)
	sum := dec.Summary()
	if jsonOut {
		werr = errors.Join(werr, capture.WriteSummaryJSON(out, sum))
	} else {
		werr = errors.Join(werr, capture.WriteSummaryText(out, sum))
	}
	if werr != nil {
		return ztcli.Fail(ztcli.ExitFailure, "writing output: %v", werr)
	}
	if sum.Failed > 0 {
		return ztcli.Fail(ztcli.ExitFailure, "%d packet(s) failed to authenticate or decode", sum.Failed)
	}
	return nil
}

// loadPlanet reads DIR/planet when DIR is a directory that has one.
func loadPlanet(dir string) (*world.World, error) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "planet"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	w, n, err := world.Decode(b)
	if err == nil && n != len(b) {
		err = fmt.Errorf("%d stray bytes after the world", len(b)-n)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, "planet"), err)
	}
	return w, nil
}
