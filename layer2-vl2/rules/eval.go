package rules

import "net/netip"

// Action is the outcome of evaluating a rule table (vl2.md §5.3).
type Action int

// Results of Evaluate.
const (
	NoMatch     Action = iota // end of table or BREAK: try capabilities, else drop
	Drop                      // DROP
	Accept                    // ACCEPT or PRIORITY
	SuperAccept               // ACCEPT while we are a TEE/REDIRECT target, or a TEE/REDIRECT to us inbound
	Redirect                  // REDIRECT: Result.ZTDest is the new destination
)

var actionNames = [...]string{"NO_MATCH", "DROP", "ACCEPT", "SUPER_ACCEPT", "REDIRECT"}

func (a Action) String() string {
	if a >= 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "Action(?)"
}

// Packet is the frame being filtered.
type Packet struct {
	Inbound          bool
	ZTSource, ZTDest uint64 // ZTDest 0 when unknown
	SrcMAC, DstMAC   uint64
	EtherType        uint16
	VlanID           uint16
	Frame            []byte // Ethernet payload (no Ethernet header)
}

// Env is what evaluation asks of the network: our own address and tags, the
// remote peer's tags, config flags, and sender authentication (certificates
// of ownership).
type Env interface {
	MyAddress() uint64
	ConfigFlags() uint64 // network config flags; 0x08 = unknown MATCH types match
	LocalTag(id uint32) (uint32, bool)
	RemoteTag(id uint32) (uint32, bool) // peer's valid tag (sender for inbound, destination for outbound); false if unknown
	SenderIPAuthenticated(ip netip.Addr) bool
	SenderMACAuthenticated(mac uint64) bool
	Random() uint32
}

// Result is what Evaluate decided. CC, CCLength and CCWatch are set by a
// TEE or WATCH that was reached whatever the final action (the reference
// leaves them set on NO_MATCH too, and still sends the copy if a capability
// then accepts).
type Result struct {
	Action   Action
	CC       uint64 // TEE/WATCH target, 0 if none
	CCLength int
	CCWatch  bool
	ZTDest   uint64 // possibly rewritten by REDIRECT
	QoS      uint8  // bucket of a PRIORITY action (0–8, out of range → 4); 0 otherwise
}

// noEnv stands in for a nil Env: address 0, no tags, no flags, nothing
// authenticated, Random 0.
type noEnv struct{}

func (noEnv) MyAddress() uint64                     { return 0 }
func (noEnv) ConfigFlags() uint64                   { return 0 }
func (noEnv) LocalTag(uint32) (uint32, bool)        { return 0, false }
func (noEnv) RemoteTag(uint32) (uint32, bool)       { return 0, false }
func (noEnv) SenderIPAuthenticated(netip.Addr) bool { return false }
func (noEnv) SenderMACAuthenticated(uint64) bool    { return false }
func (noEnv) Random() uint32                        { return 0 }

// evaluation is the state of one Evaluate call.
type evaluation struct {
	p           *Packet
	env         Env
	me          uint64
	superAccept bool
	skipDrop    bool
	auth        uint64 // sender-authentication characteristics, computed once
	authDone    bool
}

// Evaluate runs a rule table against a packet as _doZtFilter does. An empty
// table gives NoMatch. It does not allocate.
func Evaluate(table []Rule, p *Packet, env Env) Result {
	if env == nil {
		env = noEnv{}
	}
	e := evaluation{p: p, env: env, me: env.MyAddress() & addrMask}
	res := Result{ZTDest: p.ZTDest}
	setMatches := true
	for i := range table {
		r := &table[i]
		t := r.Type & typeMask
		if t.IsAction() {
			if !setMatches {
				// An inbound TEE/REDIRECT to us whose set did not match still
				// makes a later ACCEPT a super-accept.
				if p.Inbound && isForward(t) && r.Address&addrMask == e.me {
					e.superAccept = true
				}
				setMatches = true // start the next set
				continue
			}
			if a, done := e.action(r, t, &res); done {
				res.Action = a
				return res
			}
			continue
		}
		// AND with false stays false: skip the evaluation.
		if !setMatches && !r.Or {
			continue
		}
		m := e.match(r, t).apply(r.Not)
		if r.Or {
			setMatches = setMatches || m
		} else {
			setMatches = setMatches && m
		}
	}
	res.Action = NoMatch
	return res
}

func isForward(t Type) bool { return t == ActionTee || t == ActionWatch || t == ActionRedirect }

// action takes an action whose set matched; done reports that evaluation
// ends with a.
func (e *evaluation) action(r *Rule, t Type, res *Result) (a Action, done bool) {
	switch t {
	case ActionPriority:
		res.QoS = r.Value8
		if r.Value8 > 8 {
			res.QoS = 4
		}
		return Accept, true
	case ActionDrop:
		if e.skipDrop {
			e.skipDrop = false
			return NoMatch, false
		}
		return Drop, true
	case ActionAccept:
		if e.superAccept {
			return SuperAccept, true
		}
		return Accept, true
	case ActionTee, ActionWatch, ActionRedirect:
		f := r.Address & addrMask
		switch {
		case f == e.p.ZTSource&addrMask: // the source is the target: no-op
		case f == e.me:
			if e.p.Inbound {
				return SuperAccept, true
			}
		case f == res.ZTDest&addrMask:
		case t == ActionRedirect:
			res.ZTDest = f
			return Redirect, true
		default:
			res.CC = f
			res.CCWatch = t == ActionWatch
			res.CCLength = len(e.p.Frame)
			if r.Length != 0 && int(r.Length) < res.CCLength {
				res.CCLength = int(r.Length)
			}
		}
		return NoMatch, false
	case ActionBreak:
		return NoMatch, true
	}
	return NoMatch, false // unknown actions are no-ops
}
