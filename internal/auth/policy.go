package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Policy is an IAM-style identity policy:
//
//	{"Version": "2012-10-17",
//	 "Statement": [{
//	   "Sid": "InvokeSmallModels",
//	   "Effect": "Allow",
//	   "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
//	   "Resource": "arn:aws:bedrock:*::foundation-model/smollm2-*",
//	   "Condition": {"StringEquals": {"bedrock:PerformanceConfigLatency": "standard"}}
//	 }]}
//
// Evaluation follows IAM: an explicit Deny in any statement wins, otherwise
// an Allow is needed, otherwise the request is denied. Action and Resource
// (and NotAction, NotResource) accept * and ? wildcards; actions compare
// case-insensitively, resources case-sensitively. Conditions support the
// String*, Numeric*, Bool, Null and IpAddress operators, each with an
// …IfExists form; keys compare case-insensitively. See docs/SECURITY.md for
// the condition keys Outcrop provides.
type Policy struct {
	Version   string      `json:"Version,omitempty"`
	ID        string      `json:"Id,omitempty"`
	Statement []Statement `json:"Statement"`
}

// Statement is one policy statement.
type Statement struct {
	Sid         string                           `json:"Sid,omitempty"`
	Effect      string                           `json:"Effect"`
	Action      stringList                       `json:"Action,omitempty"`
	NotAction   stringList                       `json:"NotAction,omitempty"`
	Resource    stringList                       `json:"Resource,omitempty"`
	NotResource stringList                       `json:"NotResource,omitempty"`
	Condition   map[string]map[string]stringList `json:"Condition,omitempty"`

	conds []condition
}

// stringList is a JSON string or array of strings.
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		out := make([]string, 0, len(raw))
		for _, r := range raw {
			v, err := scalarString(r)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		*s = out
		return nil
	}
	v, err := scalarString(b)
	if err != nil {
		return err
	}
	*s = stringList{v}
	return nil
}

// scalarString accepts a JSON string, number or boolean as a string, as IAM
// does for condition values.
func scalarString(b []byte) (string, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("expected a string, got %s", b)
}

// Conditions are the request's condition keys and values, keys in lower
// case (Conditions.Set lowers them).
type Conditions map[string]string

// Set sets key (any case) to v.
func (c Conditions) Set(key, v string) { c[strings.ToLower(key)] = v }

type condOp uint8

const (
	opStringEquals condOp = iota
	opStringNotEquals
	opStringEqualsIgnoreCase
	opStringNotEqualsIgnoreCase
	opStringLike
	opStringNotLike
	opNumericEquals
	opNumericNotEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opBool
	opNull
	opIPAddress
	opNotIPAddress
)

var condOps = map[string]condOp{
	"stringequals": opStringEquals, "stringnotequals": opStringNotEquals,
	"stringequalsignorecase": opStringEqualsIgnoreCase, "stringnotequalsignorecase": opStringNotEqualsIgnoreCase,
	"stringlike": opStringLike, "stringnotlike": opStringNotLike,
	"numericequals": opNumericEquals, "numericnotequals": opNumericNotEquals,
	"numericlessthan": opNumericLessThan, "numericlessthanequals": opNumericLessThanEquals,
	"numericgreaterthan": opNumericGreaterThan, "numericgreaterthanequals": opNumericGreaterThanEquals,
	"bool": opBool, "null": opNull, "ipaddress": opIPAddress, "notipaddress": opNotIPAddress,
}

func (o condOp) negated() bool {
	switch o {
	case opStringNotEquals, opStringNotEqualsIgnoreCase, opStringNotLike, opNumericNotEquals, opNotIPAddress:
		return true
	}
	return false
}

type condition struct {
	op       condOp
	ifExists bool
	key      string // lower case
	values   []string
	nums     []float64
	prefixes []netip.Prefix
}

// ParsePolicy decodes and validates a policy document.
func ParsePolicy(doc []byte) (*Policy, error) {
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if dec.More() {
		return nil, errors.New("policy: trailing data after the document")
	}
	if err := p.compile(); err != nil {
		return nil, err
	}
	return &p, nil
}

func (p *Policy) compile() error {
	switch p.Version {
	case "", "2012-10-17", "2008-10-17":
	default:
		return fmt.Errorf("policy: unsupported Version %q", p.Version)
	}
	if len(p.Statement) == 0 {
		return errors.New("policy: no Statement")
	}
	for i := range p.Statement {
		s := &p.Statement[i]
		where := fmt.Sprintf("policy: Statement[%d]", i)
		if s.Effect != "Allow" && s.Effect != "Deny" {
			return fmt.Errorf("%s: Effect must be Allow or Deny, not %q", where, s.Effect)
		}
		if (len(s.Action) == 0) == (len(s.NotAction) == 0) {
			return fmt.Errorf("%s: exactly one of Action and NotAction is required", where)
		}
		if (len(s.Resource) == 0) == (len(s.NotResource) == 0) {
			return fmt.Errorf("%s: exactly one of Resource and NotResource is required", where)
		}
		for _, a := range append(append([]string(nil), s.Action...), s.NotAction...) {
			if a != "*" && !strings.Contains(a, ":") {
				return fmt.Errorf("%s: action %q must be service:Name or *", where, a)
			}
		}
		s.conds = s.conds[:0]
		for opName, kv := range s.Condition {
			name := strings.ToLower(opName)
			ifExists := strings.HasSuffix(name, "ifexists")
			name = strings.TrimSuffix(name, "ifexists")
			op, ok := condOps[name]
			if !ok {
				return fmt.Errorf("%s: unsupported condition operator %q", where, opName)
			}
			for key, vals := range kv {
				c := condition{op: op, ifExists: ifExists, key: strings.ToLower(key), values: vals}
				if len(vals) == 0 {
					return fmt.Errorf("%s: condition %s on %s has no values", where, opName, key)
				}
				switch op {
				case opNumericEquals, opNumericNotEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
					for _, v := range vals {
						f, err := strconv.ParseFloat(v, 64)
						if err != nil {
							return fmt.Errorf("%s: %s on %s: %q is not a number", where, opName, key, v)
						}
						c.nums = append(c.nums, f)
					}
				case opBool, opNull:
					for _, v := range vals {
						if v != "true" && v != "false" {
							return fmt.Errorf("%s: %s on %s: %q is not true or false", where, opName, key, v)
						}
					}
				case opIPAddress, opNotIPAddress:
					for _, v := range vals {
						pfx, err := netip.ParsePrefix(v)
						if err != nil {
							a, err2 := netip.ParseAddr(v)
							if err2 != nil {
								return fmt.Errorf("%s: %s on %s: %q is not an IP address or CIDR", where, opName, key, v)
							}
							pfx = netip.PrefixFrom(a, a.BitLen())
						}
						c.prefixes = append(c.prefixes, pfx)
					}
				}
				s.conds = append(s.conds, c)
			}
		}
	}
	return nil
}

// Decision is the outcome of evaluating policies.
type Decision uint8

// Decisions. ImplicitDeny is the default when no statement allows.
const (
	ImplicitDeny Decision = iota
	Allow
	ExplicitDeny
)

// String returns "allow", "deny" (explicit) or "implicit-deny".
func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case ExplicitDeny:
		return "deny"
	}
	return "implicit-deny"
}

// Evaluate evaluates policies for one request.
func Evaluate(policies []*Policy, action, resource string, conds Conditions) Decision {
	allowed := false
	for _, p := range policies {
		for i := range p.Statement {
			s := &p.Statement[i]
			if !s.matches(action, resource, conds) {
				continue
			}
			if s.Effect == "Deny" {
				return ExplicitDeny
			}
			allowed = true
		}
	}
	if allowed {
		return Allow
	}
	return ImplicitDeny
}

func (s *Statement) matches(action, resource string, conds Conditions) bool {
	if len(s.Action) > 0 {
		if !anyMatch(s.Action, action, true) {
			return false
		}
	} else if anyMatch(s.NotAction, action, true) {
		return false
	}
	if len(s.Resource) > 0 {
		if !anyMatch(s.Resource, resource, false) {
			return false
		}
	} else if anyMatch(s.NotResource, resource, false) {
		return false
	}
	for i := range s.conds {
		if !s.conds[i].eval(conds) {
			return false
		}
	}
	return true
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if wildcardMatch(p, s, fold) {
			return true
		}
	}
	return false
}

// wildcardMatch matches s against a pattern where * matches any run of
// characters and ? any one character, in linear time (backtracking to the
// last star only).
func wildcardMatch(p, s string, fold bool) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) && (p[pi] == '?' || eqByte(p[pi], s[si], fold)) {
			pi++
			si++
			continue
		}
		if pi < len(p) && p[pi] == '*' {
			star, mark = pi, si
			pi++
			continue
		}
		if star >= 0 {
			pi = star + 1
			mark++
			si = mark
			continue
		}
		return false
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func eqByte(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	if 'A' <= a && a <= 'Z' {
		a += 'a' - 'A'
	}
	if 'A' <= b && b <= 'Z' {
		b += 'a' - 'A'
	}
	return a == b
}

func (c *condition) eval(conds Conditions) bool {
	v, present := conds[c.key]
	if c.op == opNull {
		want := c.values[0] == "true" // Null:true means the key is absent
		return want != present
	}
	if !present {
		// IAM: a missing key fails positive operators and satisfies negated
		// ones; …IfExists makes any operator pass.
		return c.ifExists || c.op.negated()
	}
	match := false
	switch c.op {
	case opStringEquals, opStringNotEquals:
		for _, x := range c.values {
			if x == v {
				match = true
				break
			}
		}
	case opStringEqualsIgnoreCase, opStringNotEqualsIgnoreCase:
		for _, x := range c.values {
			if strings.EqualFold(x, v) {
				match = true
				break
			}
		}
	case opStringLike, opStringNotLike:
		for _, x := range c.values {
			if wildcardMatch(x, v, false) {
				match = true
				break
			}
		}
	case opBool:
		for _, x := range c.values {
			if strings.EqualFold(x, v) {
				match = true
				break
			}
		}
	case opIPAddress, opNotIPAddress:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return c.op.negated()
		}
		a = a.Unmap()
		for _, p := range c.prefixes {
			if p.Contains(a) {
				match = true
				break
			}
		}
	default:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return c.op.negated()
		}
		for _, x := range c.nums {
			if numCompare(c.op, f, x) {
				match = true
				break
			}
		}
		if c.op == opNumericNotEquals {
			for _, x := range c.nums {
				if f == x {
					return false
				}
			}
			return true
		}
	}
	if c.op.negated() {
		return !match
	}
	return match
}

func numCompare(op condOp, v, x float64) bool {
	switch op {
	case opNumericEquals:
		return v == x
	case opNumericLessThan:
		return v < x
	case opNumericLessThanEquals:
		return v <= x
	case opNumericGreaterThan:
		return v > x
	case opNumericGreaterThanEquals:
		return v >= x
	}
	return false
}
