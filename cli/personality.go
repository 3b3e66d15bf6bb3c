package cli

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/ztgo/ztgo/layer1-vl1/world"
)

// persona is what a personality makes of the command line: the arguments
// ztgo's root command runs, or (done) an answer it gave itself, as the tool
// it stands in for would (help, version, a usage error).
type persona struct {
	args []string
	// cli is the program name when zerotier-cli's output conventions apply.
	cli string

	done           bool
	code           int
	stdout, stderr string
}

// personality rewrites the arguments when the binary is invoked through a
// link named zerotier-cli, zerotier-idtool or zerotier-one, so scripts
// written for those keep working. As in 1.14.1 the name only has to
// contain the tool's.
func personality(args []string) persona {
	if len(args) == 0 {
		return persona{args: args}
	}
	name := filepath.Base(args[0])
	switch {
	case strings.Contains(name, "zerotier-cli"):
		return cliArgs(args)
	case strings.Contains(name, "zerotier-idtool"):
		return persona{args: idtoolArgs(args)}
	case strings.Contains(name, "zerotier-one"):
		return oneArgs(args)
	}
	return persona{args: args}
}

// zeroTierHome is zerotier-one's home on this platform, where the
// personalities look unless $ZTGO_HOME says otherwise: a drop-in
// replacement finds the files the scripts expect.
func zeroTierHome() string {
	if h := os.Getenv("ZTGO_HOME"); h != "" {
		return h
	}
	switch runtime.GOOS {
	case "darwin":
		return "/Library/Application Support/ZeroTier/One"
	case "freebsd", "openbsd", "netbsd":
		return "/var/db/zerotier-one"
	case "windows":
		return `C:\ProgramData\ZeroTier\One`
	}
	return "/var/lib/zerotier-one"
}

// switchArg splits a zerotier-style switch, "-p9993", into 'p' and "9993".
func switchArg(a string) (byte, string) {
	if len(a) < 2 {
		return 0, ""
	}
	return a[1], a[2:]
}

// strToUInt reads leading decimal digits as C's strtoul does: none is 0.
func strToUInt(s string) uint64 {
	var n uint64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' || n > 1<<32 {
			break
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

// zerotierCLICommands are the commands zerotier-cli knows and ztgo serves.
var zerotierCLICommands = map[string]string{
	"info": "info", "status": "info", "listpeers": "listpeers", "peers": "peers",
	"listnetworks": "listnetworks", "join": "join", "leave": "leave", "set": "set", "get": "get",
	"listmoons": "listmoons", "orbit": "orbit", "deorbit": "deorbit", "dump": "dump",
	"bond": "bond", "listbonds": "listbonds",
}

// cliArgs maps `zerotier-cli [-switches] <command> [args]` onto ztgo: the
// glued switches (-D<path>, -p<port>, -T<token>, -H<host>), which may
// stand anywhere, become flags of the command.
func cliArgs(args []string) persona {
	pn := args[0]
	help := func(code int) persona { return persona{done: true, code: code, stdout: cliHelp(pn)} }
	flags := []string{}
	home := false
	var rest []string
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		sw, val := switchArg(a)
		switch sw {
		case 'q', 'j', 'v':
			if val != "" {
				return help(1)
			}
			if sw == 'j' {
				flags = append(flags, "-j")
			}
			if sw == 'v' {
				return persona{done: true, stdout: compatibleWith + "\n"}
			}
		case 'p':
			port := strToUInt(val)
			if port == 0 || port > 0xffff {
				return help(1)
			}
			flags = append(flags, "-p", strconv.FormatUint(port, 10))
		case 'D', 'H', 'T':
			if val == "" {
				return help(1)
			}
			home = home || sw == 'D'
			flags = append(flags, "-"+string(sw), val)
		default: // -h, -? and any other switch
			return help(0)
		}
	}
	if !home {
		flags = append(flags, "-D", zeroTierHome())
	}
	var cmd string
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	out := []string{pn}
	switch name, ok := zerotierCLICommands[cmd]; {
	case strings.HasPrefix(cmd, "/"):
		out = append(out, "api", cmd)
		rest = nil
	case ok:
		out = append(out, name)
	default:
		// zerotier-cli finds the service first, then prints its help on
		// stderr and exits 0.
		out = append(out, "zerotier-cli-usage")
		rest = nil
	}
	out = append(out, flags...)
	if len(rest) > 0 {
		out = append(append(out, "--"), rest...)
	}
	return persona{args: out, cli: pn}
}

// oneArgs maps `zerotier-one [-switches] [home directory]` onto `ztgo run`;
// -i and -q hand the rest to the idtool and cli personalities, as 1.14.1's
// switches do.
func oneArgs(args []string) persona {
	pn := args[0]
	help := func(code int) persona { return persona{done: true, code: code, stdout: oneHelp(pn)} }
	var flags []string
	home := ""
	for i, a := range args[1:] {
		if !strings.HasPrefix(a, "-") {
			if home != "" {
				return help(0)
			}
			home = a
			continue
		}
		sw, val := switchArg(a)
		switch sw {
		case 'p':
			port := strToUInt(val)
			if port > 0xffff {
				return help(1)
			}
			flags = append(flags, "-p", strconv.FormatUint(port, 10))
		case 'd':
			flags = append(flags, "-d")
		case 'U':
			flags = append(flags, "-U")
		case 'v':
			return persona{done: true, stdout: compatibleWith + "\n"}
		case 'i':
			if val != "" {
				return help(0)
			}
			return persona{args: idtoolArgs(append([]string{pn}, args[i+2:]...))}
		case 'q':
			if val != "" {
				return help(0)
			}
			return cliArgs(args)
		default: // -h, -? and any other switch
			return help(0)
		}
	}
	if home == "" {
		home = zeroTierHome()
	}
	return persona{args: append(append([]string{pn, "run"}, flags...), "--", home)}
}

// hoistFlags moves the API flags given before a command (`ztgo -j info`,
// `ztgo -D dir info`) behind it, where the command parses them, when the
// command takes them.
func hoistFlags(root *cli.Command, args []string) []string {
	var moved []string
	i := 1
scan:
	for i < len(args) {
		a := args[i]
		name, _, glued := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case !strings.HasPrefix(a, "-") || a == "-" || a == "--":
			break scan
		case name == "j":
			moved = append(moved, a)
			i++
		case (name == "D" || name == "p" || name == "T" || name == "H") && glued:
			moved = append(moved, a)
			i++
		case (name == "D" || name == "p" || name == "T" || name == "H") && i+1 < len(args):
			moved = append(moved, a, args[i+1])
			i += 2
		default:
			break scan
		}
	}
	if len(moved) == 0 || i >= len(args) {
		return args
	}
	cmd := root.Command(args[i])
	if cmd == nil {
		return args
	}
	for _, m := range moved {
		name, _, _ := strings.Cut(strings.TrimLeft(m, "-"), "=")
		if strings.HasPrefix(m, "-") && !hasFlag(cmd, name) {
			return args
		}
	}
	out := append([]string{args[0], args[i]}, moved...)
	return append(out, args[i+1:]...)
}

func hasFlag(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

// idtoolArgs maps zerotier-idtool's commands onto ztgo's.
func idtoolArgs(args []string) []string {
	if len(args) < 2 {
		return []string{args[0], "identity", "--help"}
	}
	switch args[1] {
	case "getpublic":
		return append([]string{args[0], "identity", "public"}, args[2:]...)
	case "genmoon":
		return append([]string{args[0], "world", "create"}, args[2:]...)
	case "initmoon":
		return append([]string{args[0], "identity", "initmoon"}, args[2:]...)
	}
	return append([]string{args[0], "identity"}, args[1:]...)
}

// writeInitMoon prints zerotier-idtool initmoon's JSON template for a moon
// whose root is id, with a fresh signing key.
func writeInitMoon(w io.Writer, idPublic, address string) error {
	kp, err := world.GenerateKeyPair(rand.Reader)
	if err != nil {
		return err
	}
	out := map[string]any{
		"id":                    fmt.Sprintf("%016s", address),
		"objtype":               "world",
		"roots":                 []any{map[string]any{"identity": idPublic, "stableEndpoints": []string{}}},
		"signingKey":            hex.EncodeToString(kp.Public[:]),
		"signingKey_SECRET":     hex.EncodeToString(kp.Secret[:]),
		"updatesMustBeSignedBy": hex.EncodeToString(kp.Public[:]),
		"worldType":             "moon",
	}
	b, _ := json.MarshalIndent(out, "", " ")
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
