package cli

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/ztgo/ztgo/layer1-vl1/identity"
)

// identityCommand mirrors zerotier-idtool (service-api.md §12.3): same
// arguments, output and exit codes, so scripts written for it keep working.
// Every failure exits 1, as idtool's do.
func identityCommand() *cli.Command {
	c := &cli.Command{
		Name:  "identity",
		Usage: "generate, validate, sign and verify with ZeroTier identities (as zerotier-idtool)",
		Description: "An <identity> argument longer than 32 characters with ':' at index 10 is the identity\n" +
			"itself; anything else is the name of a file holding one.",
		Commands: []*cli.Command{
			generateCommand(),
			validateCommand(),
			publicCommand(),
			signCommand(),
			verifyCommand(),
			{
				Name:      "initmoon",
				Usage:     "print a moon JSON template for this identity with a new signing key (as zerotier-idtool initmoon)",
				ArgsUsage: "<identity.public>",
				Action: func(_ context.Context, cmd *cli.Command) error {
					args, err := identityArgs(cmd, 1, 1)
					if err != nil {
						return err
					}
					id, err := loadIdentity(args[0])
					if err != nil {
						return err
					}
					return writeInitMoon(cmd.Root().Writer, id.String(), id.Address().String())
				},
			},
		},
		Action: func(_ context.Context, cmd *cli.Command) error {
			if cmd.NArg() > 0 {
				return fail(exitFailure, "unknown command %q (want generate, validate, public, sign or verify)", cmd.Args().First())
			}
			// Like idtool without a command: help, and a failing exit.
			_ = cli.ShowSubcommandHelp(cmd)
			return &exitError{code: exitFailure}
		},
	}
	c.OnUsageError = usageError(exitFailure)
	for _, sub := range c.Commands {
		sub.OnUsageError = usageError(exitFailure)
	}
	return c
}

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check an identity's proof of work and keys",
		ArgsUsage: "<identity>",
		Action: withIdentity(1, func(cmd *cli.Command, id *identity.Identity, args []string) error {
			if id.Validate() != nil {
				fmt.Fprintf(cmd.Root().ErrWriter, "%s FAILED validation.\n", args[0])
				return &exitError{code: exitFailure}
			}
			fmt.Fprintf(cmd.Root().Writer, "%s is a valid identity\n", args[0])
			return nil
		}),
	}
}

func publicCommand() *cli.Command {
	return &cli.Command{
		Name:      "public",
		Aliases:   []string{"getpublic"},
		Usage:     "print the public form of an identity",
		ArgsUsage: "<identity.secret>",
		Action: withIdentity(1, func(cmd *cli.Command, id *identity.Identity, args []string) error {
			fmt.Fprint(cmd.Root().Writer, id.String())
			return nil
		}),
	}
}

func signCommand() *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "print the hex signature of a file's contents",
		ArgsUsage: "<identity.secret> <file>",
		Action: withIdentity(2, func(cmd *cli.Command, id *identity.Identity, args []string) error {
			if !id.HasSecret() {
				return fmt.Errorf("%s: %w (use the identity.secret file)", identityLabel(args[0]), identity.ErrNoSecret)
			}
			msg, err := readFile(args[1])
			if err != nil {
				return err
			}
			sig, err := id.Sign(msg)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.Root().Writer, hex.EncodeToString(sig[:]))
			return nil
		}),
	}
}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a file's signature; <signature> is hex or a file holding hex",
		ArgsUsage: "<identity> <file> <signature>",
		Action: withIdentity(3, func(cmd *cli.Command, id *identity.Identity, args []string) error {
			msg, err := readFile(args[1])
			if err != nil {
				return err
			}
			sig, err := signatureArg(args[2])
			if err != nil {
				return err
			}
			if !id.Verify(msg, sig) {
				fmt.Fprintf(cmd.Root().ErrWriter, "%s signature check FAILED\n", args[1])
				return &exitError{code: exitFailure}
			}
			fmt.Fprintf(cmd.Root().Writer, "%s signature valid\n", args[1])
			return nil
		}),
	}
}

// withIdentity is the action of an identity command taking n arguments,
// the first an identity (a file or the text itself), loaded before do runs.
func withIdentity(n int, do func(cmd *cli.Command, id *identity.Identity, args []string) error) cli.ActionFunc {
	return func(_ context.Context, cmd *cli.Command) error {
		args, err := identityArgs(cmd, n, n)
		if err != nil {
			return err
		}
		id, err := loadIdentity(args[0])
		if err != nil {
			return err
		}
		return do(cmd, id, args)
	}
}

// signatureArg reads a <signature> argument: 192 hex digits, or else the
// name of a file holding them (idtool tries both in that order).
func signatureArg(arg string) ([]byte, error) {
	const digits = 2 * identity.SignatureLength
	if len(arg) == digits {
		if sig, err := hex.DecodeString(arg); err == nil {
			return sig, nil
		}
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		if _, hexErr := hex.DecodeString(arg); hexErr == nil {
			return nil, fmt.Errorf("signature has %d hex digits, want %d", len(arg), digits)
		}
		return nil, fmt.Errorf("%s: not a hex signature nor a readable file (%w)", arg, withoutPath(err))
	}
	text := strings.TrimSpace(string(b))
	sig, err := hex.DecodeString(text)
	if err != nil || len(sig) != identity.SignatureLength {
		return nil, fmt.Errorf("%s: file must hold a signature of %d hex digits (as printed by sign)", arg, digits)
	}
	return sig, nil
}

// identityArgs returns cmd's arguments if there are min to max of them;
// otherwise a usage error with idtool's exit code.
func identityArgs(cmd *cli.Command, min, max int) ([]string, error) {
	args := cmd.Args().Slice()
	if len(args) >= min && len(args) <= max {
		return args, nil
	}
	want := fmt.Sprintf("%d to %d arguments", min, max)
	switch {
	case min == max && min == 1:
		want = "1 argument"
	case min == max:
		want = fmt.Sprintf("%d arguments", min)
	}
	return nil, fail(exitFailure, "want %s, got %d (usage: %s %s)", want, len(args), cmd.FullName(), cmd.ArgsUsage)
}
