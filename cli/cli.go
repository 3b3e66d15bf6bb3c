// Package cli is the ztgo command line: the root command, its subcommands
// and the convention that turns their errors into one stderr line and an exit
// code. cli/ztgo and the developer tools in tools/ import it; it may import
// any layer, and no layer may import it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/ztgo/ztgo/layer1-vl1/wire"
)

// Version is ztgo's own version; compatibleWith is the ZeroTierOne release
// whose wire format and files it matches.
const (
	Version        = "0.1.0-dev"
	compatibleWith = "1.14.1"
)

// Exit codes shared by all commands. Commands that mirror a ZeroTier tool
// use that tool's codes instead (identity: 1 for everything).
const (
	exitFailure = 1
	exitUsage   = 2
)

// commands lists the top-level commands; add yours here.
func commands() []*cli.Command {
	return []*cli.Command{
		runCommand(),
		infoCommand(),
		peersCommand(),
		listpeersCommand(),
		bondCommand(),
		listbondsCommand(),
		pingCommand(),
		joinCommand(),
		leaveCommand(),
		listnetworksCommand(),
		setCommand(),
		getCommand(),
		orbitCommand(),
		deorbitCommand(),
		listmoonsCommand(),
		controllerCommand(),
		tcpRelayCommand(),
		apiCommand(),
		worldCommand(),
		identityCommand(),
		dumpCommand(),
		serviceCommand(),
		cliUsageCommand(),
	}
}

// New builds the root command. Main runs it; tests may run it directly.
func New() *cli.Command {
	root := &cli.Command{
		Name:  "ztgo",
		Usage: "a ZeroTier-compatible peer-to-peer virtual Ethernet",
		// Help's first line reads "ztgo — <usage>" rather than urfave's "ztgo - <usage>".
		CustomRootCommandHelpTemplate: strings.Replace(cli.RootCommandHelpTemplate,
			`{{template "helpNameTemplate" .}}`, `{{.Name}} — {{.Usage}}`, 1),
		Commands: commands(),
		Flags: []cli.Flag{
			// Our own flag rather than urfave's: its version line cannot
			// carry the protocol and compatibility note without a global.
			&cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version", Local: true},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Bool("version") {
				fmt.Fprintf(cmd.Root().Writer, "ztgo %s (protocol %d, compatible with ZeroTier %s)\n",
					Version, wire.ProtocolVersion, compatibleWith)
				return nil
			}
			if cmd.NArg() > 0 {
				return fail(exitUsage, "unknown command %q (run 'ztgo --help' for the list)", cmd.Args().First())
			}
			return cli.ShowRootCommandHelp(cmd)
		},
		EnableShellCompletion: true,
	}
	prepare(root)
	return root
}

// prepare puts a root command under this package's error convention.
func prepare(root *cli.Command) {
	// execute prints errors and picks exit codes; urfave must never exit.
	root.ExitErrHandler = func(context.Context, *cli.Command, error) {}
	_ = root.Walk(func(c *cli.Command) error {
		nameErrors(c)
		return nil
	})
}

// Main runs the root command on args (args[0] is the program name) and
// returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	p := personality(args)
	if p.done {
		fmt.Fprint(stdout, p.stdout)
		fmt.Fprint(stderr, p.stderr)
		return p.code
	}
	root := New()
	args = p.args
	if p.cli != "" {
		root.Metadata = map[string]any{compatKey: p.cli}
	} else {
		args = hoistFlags(root, args)
	}
	return execute(root, splitGluedPort(args), stdout, stderr)
}

const compatKey = "zerotier-cli"

// cliCompat is the program name when ztgo runs as zerotier-cli, else "".
func cliCompat(cmd *cli.Command) string {
	name, _ := cmd.Root().Metadata[compatKey].(string)
	return name
}

// execute runs a prepared root command and turns its error into one stderr
// line and an exit code.
func execute(root *cli.Command, args []string, stdout, stderr io.Writer) int {
	root.Writer, root.ErrWriter = stdout, stderr
	err := root.Run(context.Background(), args)
	if err == nil {
		return 0
	}
	var e *exitError
	if !errors.As(err, &e) {
		// An error urfave made itself (e.g. "No help topic"): keep its code
		// if it has one, and still print a single line.
		e = &exitError{code: exitFailure, msg: root.Name + ": " + err.Error()}
		var coder cli.ExitCoder
		if errors.As(err, &coder) && coder.ExitCode() != 0 {
			e.code = coder.ExitCode()
		}
	}
	switch {
	case e.msg == "":
	case e.toStdout:
		fmt.Fprintln(stdout, e.msg)
	case e.verbatim:
		fmt.Fprintln(stderr, e.msg)
	default:
		fmt.Fprintln(stderr, oneLine(e.msg))
	}
	return e.code
}

// exitError ends a command with an exit code. A non-empty msg is printed as
// one stderr line; an empty one means the command already said what it had
// to (idtool's "FAILED" lines go to stderr without a prefix).
type exitError struct {
	code int
	msg  string
	// verbatim messages are printed as they are (lines and all), without
	// the command's name; toStdout ones go to stdout, as zerotier-cli
	// prints its error replies.
	verbatim, toStdout bool
}

func (e *exitError) Error() string { return e.msg }

// fail returns an exitError; nameErrors later prefixes the command's name.
func fail(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

// reply is an error printed on stdout exactly as given, as zerotier-cli
// prints its error replies ("401 info {}").
func reply(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...), verbatim: true, toStdout: true}
}

// verbatim is an error printed on stderr exactly as given.
func verbatim(code int, format string, args ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...), verbatim: true}
}

// nameErrors makes c's action and usage errors read `ztgo <command>: <msg>`,
// so a command only says what went wrong.
func nameErrors(c *cli.Command) {
	if act := c.Action; act != nil {
		c.Action = func(ctx context.Context, cmd *cli.Command) error {
			return named(cmd, act(ctx, cmd))
		}
	}
	if c.OnUsageError == nil {
		c.OnUsageError = usageError(exitUsage)
	}
}

// usageError reports a flag or argument urfave could not parse.
func usageError(code int) cli.OnUsageErrorFunc {
	return func(_ context.Context, cmd *cli.Command, err error, _ bool) error {
		return named(cmd, fail(code, "%v (run '%s --help')", err, cmd.FullName()))
	}
}

func named(cmd *cli.Command, err error) error {
	if err == nil {
		return nil
	}
	var e *exitError
	if !errors.As(err, &e) {
		e = &exitError{code: exitFailure, msg: err.Error()}
	}
	if e.msg == "" || e.verbatim {
		return e
	}
	return &exitError{code: e.code, msg: cmd.FullName() + ": " + e.msg}
}

// oneLine keeps the one-line promise even for errors that carry line breaks
// (a file name with a newline, a library's multi-line message).
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(strings.TrimSpace(s))
}
