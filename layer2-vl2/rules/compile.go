package rules

import (
	"fmt"
	"slices"
	"strings"
)

// The text rules language is the one ZeroTier Central accepts (ZeroTier's
// rule-compiler): base rule statements, capabilities, tags and macros.
//
//	# comment to end of line
//	drop not ethertype ipv4 and not ethertype arp and not ethertype ipv6;
//	tee 128 89e92ceee5 ipprotocol tcp and dport 22;
//	tag department id 1000 enum 100 sales enum 200 eng default sales;
//	cap ssh id 1 accept ipprotocol tcp and dport 22; ;
//	macro allow($port) accept ipprotocol tcp and dport $port; ;
//	include allow(443)
//	accept;
//
// A statement is an action (drop, accept, break, tee LEN ADDR, watch LEN
// ADDR, redirect ADDR) followed by matches joined by and/or, each optionally
// preceded by not, and ends with ';'. A capability (cap NAME id N [default]
// statements ;) and a macro (macro NAME[($a,$b)] statements ;) end with a
// lone ';'. As in ZeroTier's compiler, a bare action written with its ';'
// attached (accept;) or an include also closes the capability or macro it
// is in, so the common "cap x id 1 accept;" needs no second ';'.

// Compiled is the output of Compile, in the controller's JSON forms.
// Numbers are float64, as encoding/json decodes them, and a tag without a
// default has "default": nil.
type Compiled struct {
	Rules        []any                     // JSON rule objects
	Capabilities map[string]map[string]any // name -> {"id":..,"default":..,"rules":[..]}
	Tags         map[string]map[string]any // name -> {"id":..,"default":..}
}

// CompileError is a compile failure at a place in the source (1-based line
// and column, counted in characters).
type CompileError struct {
	Line, Col int
	Msg       string
}

func (e *CompileError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }

func errAt(t token, format string, args ...any) *CompileError {
	return &CompileError{Line: t.line, Col: t.col, Msg: fmt.Sprintf(format, args...)}
}

// Compile compiles rules-language source into the rules, capabilities and
// tags JSON the controller stores (each rule normalized as the controller
// would). Errors are *CompileError.
func Compile(src string) (*Compiled, error) {
	prog, err := parse(lex(src))
	if err != nil {
		return nil, err
	}
	return prog.render()
}

// token is a word or a ';' of the source.
type token struct {
	s         string
	line, col int
	semi      bool // a ';'
	attached  bool // a ';' written right after a word, as in "accept;"
}

func (t token) String() string {
	if t.semi {
		return "';'"
	}
	return fmt.Sprintf("%q", t.s)
}

// lex splits the source into words and ';' tokens. '#' at the start of a
// word comments out the rest of the line.
func lex(src string) []token {
	var toks []token
	line, col := 1, 0
	var word []rune
	var start token
	flush := func() bool {
		if len(word) == 0 {
			return false
		}
		start.s = string(word)
		toks = append(toks, start)
		word = word[:0]
		return true
	}
	comment := false
	for _, c := range src {
		col++
		switch {
		case c == '\n':
			flush()
			comment = false
			line, col = line+1, 0
		case comment:
		case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
			flush()
		case c == ';':
			attached := flush()
			toks = append(toks, token{s: ";", line: line, col: col, semi: true, attached: attached})
		case c == '#' && len(word) == 0:
			comment = true
		default:
			if len(word) == 0 {
				start = token{line: line, col: col}
			}
			word = append(word, c)
		}
	}
	flush()
	return toks
}

// Keyword tables.
var (
	actionWords = map[string]bool{"drop": true, "accept": true, "tee": true, "watch": true,
		"redirect": true, "break": true, "priority": true}
	// matchArgs is how many arguments each match takes (icmp's code is
	// optional, see parseMatch).
	matchArgs = map[string]int{
		"ztsrc": 1, "ztdest": 1, "vlan": 1, "vlanpcp": 1, "vlandei": 1, "ethertype": 1,
		"macsrc": 1, "macdest": 1, "ipsrc": 1, "ipdest": 1, "iptos": 2, "ipprotocol": 1,
		"icmp": 2, "sport": 1, "dport": 1, "chr": 1, "framesize": 1, "random": 1,
		"tand": 2, "tor": 2, "txor": 2, "tdiff": 2, "teq": 2,
		"tseq": 2, "tsender": 2, "treq": 2, "treceiver": 2,
	}
	// reserved cannot name a tag, capability or macro, nor be a match
	// argument (except where a symbolic value is expected).
	reserved = func() map[string]bool {
		m := map[string]bool{}
		for _, w := range []string{"macro", "tag", "cap", "default", "type", "enum", "class",
			"define", "import", "include", "log", "not", "xor", "or", "and", "set", "var", "let"} {
			m[w] = true
		}
		for w := range actionWords {
			m[w] = true
		}
		for w := range matchArgs {
			m[w] = true
		}
		return m
	}()
)

// sortedKeys lists a word table for error messages.
func sortedKeys(m map[string]int) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}
