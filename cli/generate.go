package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/urfave/cli/v3"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// File modes of the generated identity: the secret is for this user only.
const (
	secretFileMode = 0o600
	publicFileMode = 0o644
)

// generateIdentity is a variable so tests can avoid the ~0.3 s memory-hard
// proof of work of a real generation.
var generateIdentity = func() (*identity.Identity, error) {
	return identity.Generate(rand.Reader)
}

func generateCommand() *cli.Command {
	return &cli.Command{
		Name:      "generate",
		Usage:     "make a new identity: print its secret form, or write the secret and public files",
		ArgsUsage: "[<identity.secret> [<identity.public> [<vanity hex>]]]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "vanity", Usage: "retry until the address starts with these hex digits"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			args, err := identityArgs(cmd, 0, 3)
			if err != nil {
				return err
			}
			vanity := cmd.String("vanity")
			if len(args) == 3 {
				if cmd.IsSet("vanity") && !strings.EqualFold(vanity, args[2]) {
					return fail(exitFailure, "vanity prefix given twice (%q and --vanity %q): give one", args[2], vanity)
				}
				vanity = args[2]
			}
			prefix, err := vanityPrefix(vanity)
			if err != nil {
				return err
			}
			for _, name := range args[:min(len(args), 2)] {
				if err := checkWritable(name); err != nil {
					return err
				}
			}
			id, err := generateVanity(ctx, prefix, cmd.Root().ErrWriter)
			if err != nil {
				return err
			}
			out := cmd.Root().Writer
			if len(args) == 0 {
				fmt.Fprint(out, id.SecretString())
				return nil
			}
			// No trailing newline in the files, as idtool writes them.
			if err := writeFileAtomic(args[0], []byte(id.SecretString()), secretFileMode); err != nil {
				return err
			}
			fmt.Fprintf(out, "%s written\n", args[0])
			if len(args) >= 2 {
				if err := writeFileAtomic(args[1], []byte(id.String()), publicFileMode); err != nil {
					return err
				}
				fmt.Fprintf(out, "%s written\n", args[1])
			}
			return nil
		},
	}
}

// vanityPrefix checks a vanity argument and returns it in lower case; it
// refuses prefixes no address can have rather than search forever.
func vanityPrefix(s string) (string, error) {
	s = strings.ToLower(s)
	switch {
	case s == "":
		return "", nil
	case len(s) > 2*identity.AddressLength:
		return "", fail(exitFailure, "vanity prefix %q has %d digits; an address has only 10", s, len(s))
	}
	if _, err := strconv.ParseUint(s, 16, 64); err != nil {
		return "", fail(exitFailure, "vanity prefix %q is not hexadecimal (use digits 0-9 and a-f)", s)
	}
	if strings.HasPrefix(s, "ff") || s == "0000000000" {
		return "", fail(exitFailure, "vanity prefix %q can never match: that address range is reserved", s)
	}
	return s, nil
}

// generateVanity generates identities until one's address starts with
// prefix, on every core: each try is a memory-hard hash, and each hex digit
// multiplies the expected tries by 16. Progress lines are idtool's.
func generateVanity(ctx context.Context, prefix string, progress io.Writer) (*identity.Identity, error) {
	if prefix == "" {
		return generateIdentity()
	}
	type try struct {
		id  *identity.Identity
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	tries := make(chan try)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for ctx.Err() == nil {
				id, err := generateIdentity()
				select {
				case tries <- try{id, err}:
				case <-ctx.Done():
				}
			}
		})
	}
	target := prefix + strings.Repeat("0", 2*identity.AddressLength-len(prefix))
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case t := <-tries:
			if t.err != nil {
				return nil, t.err
			}
			addr := t.id.Address().String()
			if strings.HasPrefix(addr, prefix) {
				fmt.Fprintf(progress, "vanity address: found %s !\n", addr)
				return t.id, nil
			}
			fmt.Fprintf(progress, "vanity address: tried %s looking for first %d bits of %s\n", addr, 4*len(prefix), target)
		}
	}
}
