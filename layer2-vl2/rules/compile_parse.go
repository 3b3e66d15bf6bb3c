package rules

import (
	"strings"
	"unicode"
)

// The parser turns tokens into definitions and statements; values are
// resolved later (render), once every tag and macro is known, since the
// language lets them be used before they are defined.

// matchTerm is one match of a statement with its raw arguments.
type matchTerm struct {
	kw      token
	name    string // lower-cased keyword
	not, or bool
	args    []token
}

// statement is an action with its arguments and matches, or an include.
type statement struct {
	action  token
	name    string // lower-cased action, or "include"
	args    []token
	matches []matchTerm
}

type capDef struct {
	name  token // lower-cased
	id    uint32
	idTok token
	hasID bool
	dflt  bool
	body  []statement
}

type tagDef struct {
	name  token // lower-cased
	id    uint32
	hasID bool
	dflt  *uint32
	enums map[string]uint32
	flags map[string]uint32
}

type macroDef struct {
	name   token // lower-cased
	params map[string]int
	body   []statement
}

type program struct {
	base   []statement
	caps   []*capDef
	tags   []*tagDef
	macros map[string]*macroDef
}

type parser struct {
	toks []token
	pos  int
	prog *program
}

func parse(toks []token) (*program, error) {
	p := &parser{toks: toks, prog: &program{macros: map[string]*macroDef{}}}
	for {
		t, ok := p.next()
		if !ok {
			return p.prog, nil
		}
		if t.semi {
			continue // a lone ';' at top level is harmless
		}
		var err error
		switch strings.ToLower(t.s) {
		case "tag":
			err = p.parseTag(t)
		case "cap":
			err = p.parseCap(t)
		case "macro":
			err = p.parseMacro(t)
		default:
			var st statement
			st, _, err = p.parseStatement(t, "")
			p.prog.base = append(p.prog.base, st)
		}
		if err != nil {
			return nil, err
		}
	}
}

func (p *parser) peek() (token, bool) {
	if p.pos >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.pos], true
}

func (p *parser) next() (token, bool) {
	t, ok := p.peek()
	if ok {
		p.pos++
	}
	return t, ok
}

// last is where to report something missing at the end of the source.
func (p *parser) last() token {
	if len(p.toks) == 0 {
		return token{line: 1, col: 1}
	}
	return p.toks[len(p.toks)-1]
}

// word takes the next token, which must be a word, for what.
func (p *parser) word(after token, what string) (token, error) {
	t, ok := p.next()
	if !ok {
		return token{}, errAt(p.last(), "%s needs %s, found the end of the source", after.s, what)
	}
	if t.semi {
		return token{}, errAt(t, "%s needs %s, found ';'", after.s, what)
	}
	return t, nil
}

// name takes the next token as the name of a definition.
func (p *parser) name(kw token, what string) (token, error) {
	t, err := p.word(kw, "a name")
	if err != nil {
		return token{}, err
	}
	t.s = strings.ToLower(t.s)
	if err := checkName(t, what); err != nil {
		return token{}, err
	}
	return t, nil
}

func checkName(t token, what string) error {
	if !validName(t.s) {
		return errAt(t, "invalid %s name %q (letters, digits and _, not starting with a digit)", what, t.s)
	}
	if reserved[t.s] {
		return errAt(t, "%s name %q is a reserved word", what, t.s)
	}
	return nil
}

func validName(s string) bool {
	for i, c := range s {
		if !(c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c)) || (i == 0 && unicode.IsDigit(c)) {
			return false
		}
	}
	return s != ""
}

// number takes the next token as a number of at most max.
func (p *parser) number(kw token, what string, max uint64) (uint64, token, error) {
	t, err := p.word(kw, what)
	if err != nil {
		return 0, t, err
	}
	v, ok := parseNum(t.s)
	if !ok || v > max {
		return 0, t, errAt(t, "invalid %s %q (a number up to %d)", what, t.s, max)
	}
	return v, t, nil
}

// parseStatement parses the statement that starts with t. closes reports
// that it also ends the enclosing capability or macro (a bare action with
// ';' attached, or an include followed by ';'), as in ZeroTier's compiler.
func (p *parser) parseStatement(t token, container string) (st statement, closes bool, err error) {
	kw := strings.ToLower(t.s)
	st = statement{action: t, name: kw}
	nargs := 0
	switch kw {
	case "include":
		ref, err := p.word(t, "a macro name")
		if err != nil {
			return st, false, err
		}
		st.args = []token{ref}
		if nt, ok := p.peek(); ok && nt.semi {
			p.pos++
			closes = true
		}
		return st, closes, nil
	case "drop", "accept", "break":
	case "tee", "watch":
		nargs = 2
	case "redirect":
		nargs = 1
	case "priority":
		return st, false, errAt(t, "the priority action is not supported (ZeroTier's rules compiler and controller do not know it)")
	case "tag", "cap", "macro":
		return st, false, errAt(t, "missing ';' to end %s before %q", container, t.s)
	default:
		if _, isMatch := matchArgs[kw]; isMatch {
			return st, false, errAt(t, "match %q must follow an action (drop, accept, tee, watch, redirect, break)", t.s)
		}
		return st, false, errAt(t, "unknown action %q (expected drop, accept, tee, watch, redirect, break, include, tag, cap or macro)", t.s)
	}
	if nargs == 0 {
		if nt, ok := p.peek(); ok && nt.semi && nt.attached {
			p.pos++
			return st, true, nil
		}
	}
	for range nargs {
		a, ok := p.peek()
		if !ok || a.semi || reserved[strings.ToLower(a.s)] {
			usage := "a target ZeroTier address"
			if nargs == 2 {
				usage = "a maximum length (0 for all) and a target ZeroTier address"
			}
			if !ok {
				a = p.last()
			}
			return st, false, errAt(a, "%s needs %s", kw, usage)
		}
		p.pos++
		st.args = append(st.args, a)
	}
	st.matches, err = p.parseMatches()
	return st, false, err
}

// parseMatches parses "[not] m [and|or [not] m]..." up to and including the
// statement's ';' (or the end of the source).
func (p *parser) parseMatches() ([]matchTerm, error) {
	var ms []matchTerm
	var not, or bool
	var pending token
	for {
		t, ok := p.next()
		if !ok || t.semi {
			if not || or {
				return nil, errAt(pending, "%q must be followed by a match", pending.s)
			}
			return ms, nil
		}
		w := strings.ToLower(t.s)
		switch w {
		case "and":
			continue
		case "or":
			or, pending = true, t
			continue
		case "not":
			not, pending = true, t
			continue
		}
		if _, isMatch := matchArgs[w]; !isMatch {
			if actionWords[w] || w == "include" || w == "tag" || w == "cap" || w == "macro" {
				return nil, errAt(t, "expected ';' before %q", t.s)
			}
			return nil, errAt(t, "unknown match %q (expected one of %s)", t.s, sortedKeys(matchArgs))
		}
		m, err := p.parseMatch(t, w)
		if err != nil {
			return nil, err
		}
		m.not, m.or = not, or
		not, or = false, false
		ms = append(ms, m)
	}
}

// parseMatch takes a match's arguments. icmp's second one (the code) may be
// left out.
func (p *parser) parseMatch(kw token, w string) (matchTerm, error) {
	m := matchTerm{kw: kw, name: w}
	for i := range matchArgs[w] {
		a, ok := p.peek()
		if !ok || a.semi || (reserved[strings.ToLower(a.s)] && !symbolic(w, a.s)) {
			if w == "icmp" && i == 1 {
				break
			}
			found := "the end of the source"
			switch {
			case ok && a.semi:
				found = "';'"
			case ok:
				found = "keyword " + a.String()
			}
			if !ok {
				a = kw
			}
			return m, errAt(a, "%s needs %s, found %s", w, matchUsage[w], found)
		}
		p.pos++
		m.args = append(m.args, a)
	}
	return m, nil
}

// symbolic reports a reserved word that is a valid value for match w, as
// icmp is for ipprotocol.
func symbolic(w, arg string) bool {
	arg = strings.ToLower(arg)
	switch w {
	case "ipprotocol":
		_, ok := ipProtocols[arg]
		return ok
	case "ethertype":
		_, ok := etherTypes[arg]
		return ok
	}
	return false
}

// matchUsage says what each match expects, for error messages.
var matchUsage = func() map[string]string {
	m := map[string]string{
		"ztsrc":      "a 10-digit ZeroTier address",
		"ztdest":     "a 10-digit ZeroTier address",
		"vlan":       "a VLAN ID",
		"vlanpcp":    "a VLAN PCP value",
		"vlandei":    "a VLAN DEI value",
		"ethertype":  "an ethertype (a number or ipv4, arp, ipv6, ...)",
		"macsrc":     "a MAC address",
		"macdest":    "a MAC address",
		"ipsrc":      "an IP address with /bits",
		"ipdest":     "an IP address with /bits",
		"iptos":      "a mask and a value or range",
		"ipprotocol": "an IP protocol (a number or tcp, udp, icmp, ...)",
		"icmp":       "an ICMP type and optionally a code",
		"sport":      "a port or range lo-hi",
		"dport":      "a port or range lo-hi",
		"chr":        "characteristics (comma-separated names or bit numbers)",
		"framesize":  "a size or range lo-hi",
		"random":     "a probability between 0 and 1",
	}
	for _, t := range []string{"tand", "tor", "txor", "tdiff", "teq", "tseq", "tsender", "treq", "treceiver"} {
		m[t] = "a tag and a value"
	}
	return m
}()

// splitCall splits "name(a,b)" into name and its non-empty arguments.
func splitCall(s string) (string, []string) {
	i := strings.IndexByte(s, '(')
	if i <= 0 {
		return s, nil
	}
	var args []string
	for a := range strings.FieldsFuncSeq(s[i+1:], func(c rune) bool { return c == ',' || c == ')' }) {
		args = append(args, a)
	}
	return s[:i], args
}
