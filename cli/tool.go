package cli

import (
	"io"

	"github.com/urfave/cli/v3"
)

// The developer tools in tools/ (ztdump, ztgo-demo) are binaries of their
// own, so that the daemon does not carry their code and dependencies, but
// they report errors as ztgo does.

// Exit codes of the tools, the same as ztgo's own.
const (
	ExitFailure = exitFailure
	ExitUsage   = exitUsage
)

// Fail ends a tool's command with code and a one-line message.
func Fail(code int, format string, args ...any) error { return fail(code, format, args...) }

// Exit ends a tool's command with code after it has said what it had to.
func Exit(code int) error { return &exitError{code: code} }

// Tool runs a tool's root command on args (args[0] is the program name) and
// returns the process exit code.
func Tool(root *cli.Command, args []string, stdout, stderr io.Writer) int {
	prepare(root)
	return execute(root, args, stdout, stderr)
}
