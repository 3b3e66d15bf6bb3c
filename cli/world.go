package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/ztgo/ztgo/layer1-vl1/world"

	transport "github.com/ztgo/ztgo/layer0-transport"
)

func worldCommand() *cli.Command {
	return &cli.Command{
		Name:  "world",
		Usage: "create and inspect planets and moons (private roots)",
		Commands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "sign a planet or moon from a JSON description",
				ArgsUsage: "SPEC.json",
				Description: "SPEC.json is zerotier-idtool initmoon's JSON (worldType, id, roots with identity and\n" +
					"stableEndpoints, optionally signingKey/signingKey_SECRET) or mkworld's (type, id, ts, roots).\n" +
					"Without a key in the JSON, --key names the signing key file (128 bytes, mkworld's .c25519\n" +
					"format): it is used if it exists and created (mode 0600) if it does not. Keep it: later\n" +
					"updates of the world must be signed with it. The result is byte-compatible with\n" +
					"ZeroTierOne's planet and moons.d/<id>.moon files.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "key", Aliases: []string{"k"}, Usage: "signing key file (made if missing)"},
					&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "output file (default: planet, or <16 hex id>.moon)"},
					&cli.Uint64Flag{Name: "timestamp", Usage: "world timestamp in ms (default: the JSON's ts, else now)"},
				},
				Action: worldCreate,
			},
			{
				Name:      "show",
				Usage:     "print a planet or moon file",
				ArgsUsage: "FILE",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "j", Usage: "print JSON"}},
				Action:    worldShow,
			},
		},
	}
}

func worldCreate(ctx context.Context, cmd *cli.Command) error {
	if cmd.NArg() != 1 {
		return fail(exitUsage, "want one JSON description (run 'ztgo world create --help')")
	}
	b, err := readFile(cmd.Args().First())
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	spec, err := world.ParseSpec(b)
	if err != nil {
		return fail(exitUsage, "%s: %v", cmd.Args().First(), err)
	}
	var key *world.KeyPair
	newKey := false
	kf := cmd.String("key")
	if kf != "" {
		kb, err := os.ReadFile(kf)
		switch {
		case err == nil:
			if key, err = world.ParseKeyPair(kb); err != nil {
				return fail(exitUsage, "%s: %v", kf, err)
			}
		case errors.Is(err, fs.ErrNotExist):
			if key, err = world.GenerateKeyPair(rand.Reader); err != nil {
				return fail(exitFailure, "%v", err)
			}
			newKey = true
		default:
			return fail(exitUsage, "%s: %v", kf, withoutPath(err))
		}
	}
	ts := cmd.Uint64("timestamp")
	if ts == 0 {
		ts = uint64(time.Now().UnixMilli())
	}
	w, err := spec.Build(ts, key)
	if err != nil {
		hint := ""
		if key == nil && strings.Contains(err.Error(), "signing key") {
			hint = " (or name a key file with --key; it is made if missing)"
		}
		return fail(exitUsage, "%s: %v%s", cmd.Args().First(), err, hint)
	}
	if newKey {
		// Written only now, so a bad description leaves no stray key.
		if err := writeFileAtomic(kf, append(key.Public[:], key.Secret[:]...), 0o600); err != nil {
			return fail(exitFailure, "%v", err)
		}
		fmt.Fprintf(cmd.Root().ErrWriter, "new signing key written to %s (keep it secret; updates need it)\n", kf)
	}
	out := cmd.String("out")
	if out == "" {
		out = w.FileName()
	}
	if err := writeFileAtomic(out, w.Append(nil), 0o644); err != nil {
		return fail(exitFailure, "%v", err)
	}
	fmt.Fprintf(cmd.Root().Writer, "wrote %s (%s %016x, %d roots, timestamp %d)\n", out, typeName(w.Type), w.ID, len(w.Roots), w.Timestamp)
	return nil
}

func typeName(t world.Type) string {
	if t == world.Planet {
		return "planet"
	}
	return "moon"
}

func worldShow(ctx context.Context, cmd *cli.Command) error {
	if cmd.NArg() != 1 {
		return fail(exitUsage, "want one planet or moon file")
	}
	b, err := readFile(cmd.Args().First())
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	w, n, err := world.Decode(b)
	if err != nil {
		return fail(exitUsage, "%s: not a planet or moon: %v", cmd.Args().First(), err)
	}
	if n != len(b) {
		return fail(exitUsage, "%s: %d stray bytes after the world", cmd.Args().First(), len(b)-n)
	}
	if !cmd.Bool("j") {
		_, err := fmt.Fprint(cmd.Root().Writer, w.Describe())
		return err
	}
	var roots []map[string]any
	for _, r := range w.Roots {
		var eps []string
		for _, e := range r.StableEndpoints {
			eps = append(eps, transport.FormatAddrPort(e))
		}
		roots = append(roots, map[string]any{"identity": r.Identity.String(), "stableEndpoints": eps})
	}
	return printJSON(cmd.Root().Writer, map[string]any{
		"objtype":               "world",
		"worldType":             typeName(w.Type),
		"id":                    fmt.Sprintf("%016x", w.ID),
		"ts":                    w.Timestamp,
		"updatesMustBeSignedBy": hex.EncodeToString(w.UpdatesMustBeSignedBy[:]),
		"signature":             hex.EncodeToString(w.Signature[:]),
		"signatureValid":        w.VerifySelf(),
		"roots":                 roots,
		"file":                  filepath.Base(cmd.Args().First()),
	})
}
