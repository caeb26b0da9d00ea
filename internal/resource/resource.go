// Package resource holds what every Bedrock-style control-plane resource
// (agents, prompts, flows, knowledge bases, …) needs in common, so that each
// domain package writes only its own shapes and rules.
//
// What it offers:
//
//   - IDs: NewID returns Bedrock's 10-character upper-case alphanumeric
//     identifiers ("A1B2C3D4E5"); ValidID checks one.
//   - ARNs: Scope (region + default account, from config) builds
//     "arn:aws:bedrock:<region>:<account>:<type>/<id>[/…]" with Scope.ARN;
//     ParseARN splits one; Scope.Identifier accepts an ID or an ARN of the
//     expected type in a path label (as the SDKs send either), refusing an
//     ARN of another account or type with ResourceNotFoundException.
//   - Accounts: Account(ctx, scope) is the caller's account, taken from the
//     authenticated principal's IAM ARN (arn:aws:iam::<account>:user/<n>),
//     falling back to the configured one. Every Store method takes a Key
//     whose Account scopes the row: one account never sees another's.
//   - Versions: Draft ("DRAFT") is the working copy; Store.CreateVersion
//     freezes it as "1", "2", … (immutable); ParseVersion validates a
//     version label; DraftAlias ("TSTALIASID") is the agents' draft alias.
//     Aliases and other sub-resources are items of their own kind whose
//     Parent is the owning resource's ID (Key.Parent), so deleting a
//     resource deletes its children too.
//   - Pagination: Page (maxResults/nextToken, query or JSON body) and opaque
//     keyset tokens that survive inserts and deletes between calls.
//   - Errors: NotFound, Invalid (Bedrock's "1 validation error detected: …"
//     text), Conflict, QuotaExceeded return *llm.Error values of the right
//     kind; the httpapi adapters turn them into the Bedrock error shape and
//     status (httpapi.Adapter.ControlPlane gives the bedrock-agent statuses:
//     ConflictException 409, ServiceQuotaExceededException 402).
//   - Idempotency: Store.Create with a clientToken returns the resource the
//     first request created instead of a second one.
//   - Storage: Store keeps each resource as a JSON body in two tables
//     (resource_heads: one row per resource with its name, last version and
//     client token; resource_items: one row per version) on internal/store,
//     SQLite or PostgreSQL. Names are unique per account, kind and parent
//     (a second one is ConflictException); unnamed items (sessions) may
//     repeat. Timestamps are UTC, stored as RFC 3339 text.
//
// A domain package typically defines its wire struct, builds a Key{Account:
// resource.Account(ctx, scope), Kind: "agent", ID: id} and stores the
// struct as the item's Body, decoding it again with Decode.
package resource

import (
	"context"
	"crypto/rand"
	"strings"

	"github.com/outcrop/outcrop/internal/auth"
	"github.com/outcrop/outcrop/internal/config"
)

// Draft is the version label of a resource's working copy.
const Draft = "DRAFT"

// DraftAlias is the alias ID Bedrock agents reserve for the DRAFT version.
const DraftAlias = "TSTALIASID"

// DefaultAccount and DefaultRegion are used when the configuration names
// none.
const (
	DefaultAccount = "000000000000"
	DefaultRegion  = "us-east-1"
)

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// NewID returns a random 10-character identifier of digits and upper-case
// letters, the form Bedrock uses for agents, flows, prompts and aliases.
func NewID() string {
	var out [10]byte
	var buf [16]byte
	n := 0
	for n < len(out) {
		rand.Read(buf[:])
		for _, b := range buf {
			// 252 = 7*36: reject the top of the byte range so every symbol
			// is equally likely.
			if b >= 252 || n == len(out) {
				continue
			}
			out[n] = idAlphabet[int(b)%36]
			n++
		}
	}
	return string(out[:])
}

// ValidID reports whether id is 10 characters of [0-9a-zA-Z], the pattern
// Bedrock's models give resource identifiers.
func ValidID(id string) bool {
	if len(id) != 10 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// Scope is where ARNs point: the region and the account used when a
// request carries no account of its own.
type Scope struct {
	Region  string
	Account string
}

// ScopeFrom returns the scope configured in cfg (server.region,
// server.account_id), with defaults.
func ScopeFrom(cfg *config.Config) Scope {
	s := Scope{}
	if cfg != nil {
		s.Region, s.Account = cfg.Server.Region, cfg.Server.AccountID
	}
	return s.withDefaults()
}

func (s Scope) withDefaults() Scope {
	if s.Region == "" {
		s.Region = DefaultRegion
	}
	if s.Account == "" {
		s.Account = DefaultAccount
	}
	return s
}

// ARN returns "arn:aws:bedrock:<region>:<account>:<typ>/<parts joined by
// '/'>"; an empty account means the scope's.
func (s Scope) ARN(account, typ string, parts ...string) string {
	s = s.withDefaults()
	if account == "" {
		account = s.Account
	}
	var b strings.Builder
	b.WriteString("arn:aws:bedrock:")
	b.WriteString(s.Region)
	b.WriteByte(':')
	b.WriteString(account)
	b.WriteByte(':')
	b.WriteString(typ)
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(p)
	}
	return b.String()
}

// ARN is a parsed Amazon Resource Name.
type ARN struct {
	Partition, Service, Region, Account string
	// Type is the resource type before the first "/" ("agent", "prompt").
	Type string
	// Path is everything after the first "/" ("ABCDEFGHIJ/alias/XYZ").
	Path string
}

// ParseARN splits s into its fields; ok is false when s is not an ARN with
// a "type/path" resource part.
func ParseARN(s string) (a ARN, ok bool) {
	if !strings.HasPrefix(s, "arn:") {
		return a, false
	}
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 {
		return a, false
	}
	a.Partition, a.Service, a.Region, a.Account = f[1], f[2], f[3], f[4]
	typ, path, found := strings.Cut(f[5], "/")
	if !found || typ == "" || path == "" {
		return a, false
	}
	a.Type, a.Path = typ, path
	return a, true
}

// Identifier resolves a path label that holds an ID or an ARN of type typ
// (the SDKs accept both for "…Identifier" members). It returns the ID (the
// first path segment) and the rest of the ARN's path after it ("" for a
// bare ID; for "prompt/ABC:3" the rest is ":3"). An ARN of another type, or
// of an account other than account, is ResourceNotFoundException; a
// malformed value is ValidationException naming field.
func (s Scope) Identifier(field, ident, typ, account string) (id, rest string, err error) {
	s = s.withDefaults()
	if account == "" {
		account = s.Account
	}
	if ident == "" || len(ident) > 2048 {
		return "", "", Invalid(field, "Member must have length between 1 and 2048")
	}
	if !strings.HasPrefix(ident, "arn:") {
		if !ValidID(ident) {
			return "", "", Invalid(field, "Member must satisfy regular expression pattern: [0-9a-zA-Z]{10} or be an ARN")
		}
		return ident, "", nil
	}
	a, ok := ParseARN(ident)
	if !ok {
		return "", "", Invalid(field, "Member must be a valid ARN")
	}
	if a.Type != typ || a.Account != account || a.Service != "bedrock" {
		return "", "", NotFound("%s %s was not found.", typ, ident)
	}
	id = a.Path
	if i := strings.IndexAny(id, "/:"); i >= 0 {
		id, rest = id[:i], id[i:]
	}
	if !ValidID(id) {
		return "", "", NotFound("%s %s was not found.", typ, ident)
	}
	return id, rest, nil
}

// Account returns the account of the caller of ctx: the account in the
// authenticated principal's IAM ARN, or the scope's account when the request
// is unauthenticated or the ARN carries none.
func Account(ctx context.Context, s Scope) string {
	s = s.withDefaults()
	if p, ok := auth.PrincipalFrom(ctx); ok {
		if acct := AccountOf(p.ARN); acct != "" {
			return acct
		}
	}
	return s.Account
}

// AccountOf returns the account field of an ARN ("" when there is none).
func AccountOf(arn string) string {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" {
		return ""
	}
	return f[4]
}
