// Package rules is ZeroTier's network rules engine (spec vl2.md §5 and
// controller.md §8.5): the rule table model, its binary form inside network
// configs and capabilities, the controller's JSON form, the evaluation of a
// table against a frame, and a compiler for the text rules language that
// ZeroTier Central accepts.
//
// The binary codec is byte-exact with ZeroTierOne 1.14.1 for every rule the
// reference can produce, and AppendTable(ParseTable(b)) gives back b for any
// b that ParseTable accepts, including unknown rule types (their values are
// kept in Rule.Raw). Evaluation follows _doZtFilter rule for rule, without
// allocating; everything it needs from the network (our address, tags,
// certificates of ownership) comes through Env, so the package holds no
// state and imports nothing above layer 1.
package rules
