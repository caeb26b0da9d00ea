package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SigV4 is a parsed "Authorization: AWS4-HMAC-SHA256 …" header.
type SigV4 struct {
	AccessKeyID   string
	Date          string // yyyymmdd from the credential scope
	Region        string
	Service       string
	SignedHeaders []string // lower case, in the order given (sorted by the client)
	Signature     string   // 64 lower-case hex digits
}

// Scope returns date/region/service/aws4_request.
func (s *SigV4) Scope() string {
	return s.Date + "/" + s.Region + "/" + s.Service + "/aws4_request"
}

const sigV4Algorithm = "AWS4-HMAC-SHA256"

// errMalformedAuth describes an Authorization header that is not SigV4.
var errMalformedAuth = errors.New("malformed AWS4-HMAC-SHA256 authorization header")

// ParseSigV4 parses the value of an Authorization header:
//
//	AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=<hex>
//
// Components may be separated by commas, spaces or both, in any order. The
// error never contains the header's value.
func ParseSigV4(h string) (*SigV4, error) {
	rest, ok := strings.CutPrefix(h, sigV4Algorithm)
	if !ok || (len(rest) > 0 && rest[0] != ' ') {
		return nil, fmt.Errorf("%w: algorithm must be %s", errMalformedAuth, sigV4Algorithm)
	}
	var s SigV4
	var cred, signed, sig string
	var seenCred, seenSigned, seenSig bool
	for _, part := range strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ' ' }) {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%w: component without '='", errMalformedAuth)
		}
		switch k {
		case "Credential":
			cred, seenCred = v, !seenCred
			if !seenCred {
				return nil, fmt.Errorf("%w: repeated Credential", errMalformedAuth)
			}
		case "SignedHeaders":
			signed, seenSigned = v, !seenSigned
			if !seenSigned {
				return nil, fmt.Errorf("%w: repeated SignedHeaders", errMalformedAuth)
			}
		case "Signature":
			sig, seenSig = v, !seenSig
			if !seenSig {
				return nil, fmt.Errorf("%w: repeated Signature", errMalformedAuth)
			}
		default:
			return nil, fmt.Errorf("%w: unknown component", errMalformedAuth)
		}
	}
	if cred == "" || signed == "" || sig == "" {
		return nil, fmt.Errorf("%w: Credential, SignedHeaders and Signature are required", errMalformedAuth)
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return nil, fmt.Errorf("%w: Credential must be AKID/date/region/service/aws4_request", errMalformedAuth)
	}
	s.AccessKeyID, s.Date, s.Region, s.Service = parts[0], parts[1], parts[2], parts[3]
	if s.AccessKeyID == "" || len(s.AccessKeyID) > 128 || s.Region == "" || s.Service == "" {
		return nil, fmt.Errorf("%w: empty credential component", errMalformedAuth)
	}
	if len(s.Date) != 8 || !allDigits(s.Date) {
		return nil, fmt.Errorf("%w: credential date must be yyyymmdd", errMalformedAuth)
	}
	if len(sig) != 64 || !isLowerHex(sig) {
		return nil, fmt.Errorf("%w: Signature must be 64 hex digits", errMalformedAuth)
	}
	s.Signature = sig
	s.SignedHeaders = strings.Split(signed, ";")
	for _, name := range s.SignedHeaders {
		if name == "" || name != strings.ToLower(name) {
			return nil, fmt.Errorf("%w: SignedHeaders must be lower-case names", errMalformedAuth)
		}
	}
	return &s, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// UnsignedPayload is the x-amz-content-sha256 value of requests whose body
// is not covered by the signature.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// CanonicalRequest builds the SigV4 canonical request of r for the given
// signed headers and payload hash, following docs/reference §7.2: the URI
// is the path as received, percent-encoded a second time; the query is
// decoded, re-encoded and sorted; "host" and ":authority" are the request
// authority.
func CanonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	var b strings.Builder
	b.Grow(512)
	b.WriteString(r.Method)
	b.WriteByte('\n')
	rawPath, rawQuery := requestTarget(r)
	uriEncode(&b, rawPath, false)
	b.WriteByte('\n')
	canonicalQuery(&b, rawQuery)
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(headerValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	for i, name := range signed {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(name)
	}
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// requestTarget returns the path and query exactly as the client sent them.
func requestTarget(r *http.Request) (path, query string) {
	target := r.RequestURI
	if target == "" { // a client-side request, as in tests
		target = r.URL.RequestURI()
	}
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
		if u, err := url.Parse(target); err == nil {
			target = u.RequestURI()
		}
	}
	path, query, _ = strings.Cut(target, "?")
	if path == "" {
		path = "/"
	}
	return path, query
}

// uriEncode writes s percent-encoded per RFC 3986, leaving A-Z a-z 0-9 -_.~
// (and / unless encodeSlash) as they are.
func uriEncode(b *strings.Builder, s string, encodeSlash bool) {
	const hexdig = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
}

func canonicalQuery(b *strings.Builder, raw string) {
	if raw == "" {
		return
	}
	type kv struct{ k, v string }
	var pairs []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if dk, err := url.PathUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.PathUnescape(v); err == nil {
			v = dv
		}
		var ek, ev strings.Builder
		uriEncode(&ek, k, true)
		uriEncode(&ev, v, true)
		pairs = append(pairs, kv{ek.String(), ev.String()})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
}

// headerValue returns the canonical value of a signed header.
func headerValue(r *http.Request, name string) string {
	switch name {
	case "host", ":authority":
		return r.Host
	case "content-length":
		if v := r.Header.Get("Content-Length"); v != "" {
			return strings.TrimSpace(v)
		}
		if r.ContentLength >= 0 {
			return strconv.FormatInt(r.ContentLength, 10)
		}
		return ""
	case "transfer-encoding":
		return strings.Join(r.TransferEncoding, ",")
	}
	vals := r.Header.Values(name)
	if len(vals) == 1 {
		return trimAll(vals[0])
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = trimAll(v)
	}
	return strings.Join(out, ",")
}

// trimAll trims s and collapses runs of spaces and tabs to one space.
func trimAll(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") && !strings.ContainsAny(s, "\t") {
		return s
	}
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\t' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteByte(c)
	}
	return b.String()
}

// StringToSign returns the SigV4 string to sign.
func StringToSign(amzDate, scope, canonicalRequest string) string {
	h := sha256.Sum256([]byte(canonicalRequest))
	return sigV4Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(h[:])
}

// SigningKey derives the SigV4 signing key.
func SigningKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// Signature returns the hex signature of stringToSign under signingKey.
func Signature(signingKey []byte, stringToSign string) string {
	return hex.EncodeToString(hmacSHA256(signingKey, stringToSign))
}

// parseAmzDate parses X-Amz-Date (yyyymmddThhmmssZ).
func parseAmzDate(v string) (time.Time, error) {
	return time.Parse("20060102T150405Z", v)
}
