package guardrail

import (
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// PIITypes are Bedrock's PII entity types, in Bedrock's order.
var PIITypes = []string{
	"ADDRESS", "AGE", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "CA_HEALTH_NUMBER", "CA_SOCIAL_INSURANCE_NUMBER",
	"CREDIT_DEBIT_CARD_CVV", "CREDIT_DEBIT_CARD_EXPIRY", "CREDIT_DEBIT_CARD_NUMBER", "DRIVER_ID", "EMAIL",
	"INTERNATIONAL_BANK_ACCOUNT_NUMBER", "IP_ADDRESS", "LICENSE_PLATE", "MAC_ADDRESS", "NAME", "PASSWORD",
	"PHONE", "PIN", "SWIFT_CODE", "UK_NATIONAL_HEALTH_SERVICE_NUMBER", "UK_NATIONAL_INSURANCE_NUMBER",
	"UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER", "URL", "USERNAME", "US_BANK_ACCOUNT_NUMBER", "US_BANK_ROUTING_NUMBER",
	"US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", "US_PASSPORT_NUMBER", "US_SOCIAL_SECURITY_NUMBER",
	"VEHICLE_IDENTIFICATION_NUMBER",
}

var piiTypeSet = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, t := range PIITypes {
		m[t] = struct{}{}
	}
	return m
}()

// ModelTypes are the PII types the built-in pattern detector does not find;
// they need an EntityDetector (see ModelEntityDetector).
var ModelTypes = []string{"NAME", "ADDRESS"}

// Span is one detected entity: byte offsets into the text, its type, and a
// score in [0,1].
type Span struct {
	Start, End int
	Type       string
	Score      float64
}

// TypeSet is a set of PII types to look for; nil means all.
type TypeSet map[string]bool

func (s TypeSet) has(t string) bool { return s == nil || s[t] }

// DetectPII finds pattern-detectable PII in text: e-mail addresses, phone
// numbers, payment cards (Luhn), IBANs (mod-97), IP and MAC addresses, URLs,
// US/UK/CA identifiers with checksums or context words, AWS keys, and
// context-introduced secrets (passwords, PINs, user names, driver IDs,
// plates). Spans are sorted and do not overlap. It is safe for concurrent use.
func DetectPII(text string, want TypeSet) []Span {
	return detectPII(text, asciiLower(text), want)
}

// detectPII is DetectPII with text's ASCII-lower-cased copy supplied.
func detectPII(text, lower string, want TypeSet) []Span {
	if len(text) == 0 {
		return nil
	}
	d := piiScan{text: text, lower: lower, want: want}
	d.numbers()
	if want.has("EMAIL") {
		d.emails()
	}
	if want.has("URL") {
		d.urls()
	}
	if want.has("INTERNATIONAL_BANK_ACCOUNT_NUMBER") {
		d.ibans()
	}
	if want.has("AWS_ACCESS_KEY") {
		d.awsAccessKeys()
	}
	if want.has("IP_ADDRESS") || want.has("MAC_ADDRESS") {
		d.hexColons()
	}
	for r, hits := range contextKeyHits(d.lower, want) {
		if len(hits) > 0 {
			d.contextRule(contextRules[r], hits)
		}
	}
	return resolve(d.spans)
}

type piiScan struct {
	text, lower string
	want        TypeSet
	spans       []Span
}

func (d *piiScan) add(start, end int, typ string, score float64) {
	d.spans = append(d.spans, Span{Start: start, End: end, Type: typ, Score: score})
}

// asciiLower lower-cases ASCII letters only, so byte offsets are preserved.
// It returns s itself when s has no upper-case ASCII letter, and otherwise
// allocates once.
func asciiLower(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	start := 0
	for ; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b.WriteString(s[start:i])
			b.WriteByte(c + 32)
			start = i + 1
		}
	}
	b.WriteString(s[start:])
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return (c|32) >= 'a' && (c|32) <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// resolve sorts spans and drops those overlapping a longer (then
// higher-scored, then earlier) span.
func resolve(sp []Span) []Span {
	if len(sp) < 2 {
		return sp
	}
	sort.Slice(sp, func(i, j int) bool {
		li, lj := sp[i].End-sp[i].Start, sp[j].End-sp[j].Start
		if li != lj {
			return li > lj
		}
		if sp[i].Score != sp[j].Score {
			return sp[i].Score > sp[j].Score
		}
		return sp[i].Start < sp[j].Start
	})
	// out is kept sorted by start; its spans do not overlap, so it is
	// sorted by end too, and the only span s can overlap is the first
	// one ending after s starts.
	out := make([]Span, 0, len(sp))
	for _, s := range sp {
		i := sort.Search(len(out), func(k int) bool { return out[k].End > s.Start })
		if i < len(out) && out[i].Start < s.End {
			continue
		}
		out = slices.Insert(out, i, s)
	}
	return out
}

// hasContext reports whether one of keys occurs as a word in the window of
// lower-cased text ending at pos (before) and starting at end (after).
func hasContext(lower string, pos, end int, keys []string, before, after int) bool {
	lo := max(pos-before, 0)
	hi := min(end+after, len(lower))
	w := lower[lo:pos]
	a := lower[end:hi]
	for _, k := range keys {
		if containsWord(w, k) || (after > 0 && containsWord(a, k)) {
			return true
		}
	}
	return false
}

// containsWord reports whether k occurs in s with no letter directly before
// or after it.
func containsWord(s, k string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], k)
		if i < 0 {
			return false
		}
		i += off
		j := i + len(k)
		if (i == 0 || !isAlpha(s[i-1])) && (j == len(s) || !isAlpha(s[j])) {
			return true
		}
		off = i + 1
	}
}

// Context words, lower case.
var (
	ctxPhone      = []string{"phone", "call", "tel", "telephone", "mobile", "cell", "fax", "contact", "reach", "dial", "text me", "whatsapp", "ph", "tel.", "phone number"}
	ctxPhoneAfter = []string{"office", "fax", "mobile", "cell", "home", "work", "phone"}
	ctxSSN        = []string{"ssn", "social security", "social-security", "ss#", "ss #"}
	ctxRouting    = []string{"routing", "aba", "rtn", "transit"}
	ctxAccount    = []string{"account", "acct", "a/c", "checking", "savings"}
	ctxPassport   = []string{"passport"}
	ctxNHS        = []string{"nhs", "health service"}
	ctxSIN        = []string{"sin", "social insurance"}
	ctxUTR        = []string{"utr", "unique taxpayer", "taxpayer reference", "tax reference"}
	ctxCAHealth   = []string{"health card", "health number", "ohip", "health insurance number", "carte santé", "hcn"}
	ctxCVV        = []string{"cvv", "cvc", "cvv2", "cvc2", "security code", "card verification", "csc"}
	ctxExpiry     = []string{"exp", "expiry", "expires", "expiration", "valid thru", "valid through", "good thru", "exp date"}
	ctxPIN        = []string{"pin", "pin code", "pin number"}
	ctxAge        = []string{"age", "aged", "ages", "age of", "turn", "turned", "turning"}
	ctxITIN       = []string{"itin", "taxpayer identification", "tax id"}
)

// numbers finds digit runs (with spaces, dashes, dots, slashes and
// parentheses between digits) and classifies each run, or each contiguous
// group window of it, as a card, SSN, phone, IPv4 address, etc.
func (d *piiScan) numbers() {
	t := d.text
	n := len(t)
	for i := 0; i < n; {
		c := t[i]
		startOK := isDigit(c) || ((c == '+' || c == '(') && i+1 < n && isDigit(t[i+1]))
		if !startOK {
			i++
			continue
		}
		if i > 0 && (isAlnum(t[i-1]) || t[i-1] == '_') {
			// Part of a word ("A123", "call+1"): skip past it. Always
			// advance, even when t[i] is a '+' or '(' that no word
			// continues through.
			i++
			for i < n && (isAlnum(t[i]) || t[i] == '_') {
				i++
			}
			continue
		}
		start := i
		end := i
		j := i
		if c == '+' || c == '(' {
			j++
		}
		for j < n && j-start < 48 {
			if isDigit(t[j]) {
				j++
				end = j
				continue
			}
			// Up to two separator bytes between digits.
			k := j
			for k < n && k-j < 2 && isSep(t[k]) {
				k++
			}
			if k > j && k < n && isDigit(t[k]) {
				j = k
				continue
			}
			break
		}
		if end < n && t[end] == ')' {
			// "(0)85" style: keep going is handled above; a closing paren
			// at the end is not part of the number.
		}
		if end < n && (isAlpha(t[end]) || t[end] == '_') {
			// A phone extension "x123" is allowed; other letters make the
			// run part of a word.
			if (t[end] == 'x' || t[end] == 'X') && end+1 < n && isDigit(t[end+1]) {
				k := end + 1
				for k < n && isDigit(t[k]) {
					k++
				}
				if k == n || !isAlnum(t[k]) {
					d.classifyRun(start, end, k)
					i = k
					continue
				}
			}
			for end < n && isAlnum(t[end]) {
				end++
			}
			i = end
			continue
		}
		d.classifyRun(start, end, end)
		i = end
	}
}

func isSep(c byte) bool {
	return c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')'
}

// group is one maximal digit group of a run.
type group struct {
	start, end int
}

// classifyRun classifies the run t[start:end]; ext is the end including a
// phone extension, if any.
func (d *piiScan) classifyRun(start, end, ext int) {
	t := d.text
	var gs []group
	for i := start; i < end; {
		if !isDigit(t[i]) {
			i++
			continue
		}
		j := i
		for j < end && isDigit(t[j]) {
			j++
		}
		gs = append(gs, group{i, j})
		i = j
	}
	if len(gs) == 0 {
		return
	}
	// Whole run first (phones, formatted identifiers), then windows of
	// groups, longest first, for runs that join two numbers.
	if d.classify(start, end, ext, gs, true) {
		return
	}
	// Sub-windows only split a card or SSN off a short run (a card number
	// followed by its CVV, say); long runs of small groups are tables of
	// numbers, and trying every window of them would cost O(groups²).
	if len(gs) < 3 || len(gs) > 8 {
		return
	}
	for w := min(len(gs)-1, 5); w >= 1; w-- {
		for a := 0; a+w <= len(gs); a++ {
			if d.classify(gs[a].start, gs[a+w-1].end, gs[a+w-1].end, gs[a:a+w], false) {
				return
			}
		}
	}
}

// classify tries every numeric type on one candidate and records the first
// that fits. It reports whether one did. A candidate that is only part of a
// digit run (whole false) is tried only as a card or a dashed SSN, the
// types whose checksum or format is strong enough to split a run.
func (d *piiScan) classify(start, end, ext int, gs []group, whole bool) bool {
	t := d.text
	raw := t[start:end]
	var db [48]byte
	digits := db[:0]
	for _, g := range gs {
		digits = append(digits, t[g.start:g.end]...)
	}
	ds := string(digits)
	nd := len(ds)
	sepSet := seps(raw)
	want := d.want
	lower := d.lower

	// IPv4: exactly four dot-separated groups of at most three digits.
	if whole && sepSet == "." && len(gs) == 4 && want.has("IP_ADDRESS") {
		if a, err := netip.ParseAddr(raw); err == nil && a.Is4() {
			d.add(start, end, "IP_ADDRESS", 1)
			return true
		}
		return false
	}
	// Dates like 12/05/1990 or 1990-05-12 are never identifiers.
	if looksLikeDate(raw, gs, t) {
		if want.has("CREDIT_DEBIT_CARD_EXPIRY") && len(gs) == 2 && hasContext(lower, start, end, ctxExpiry, 32, 0) {
			d.add(start, end, "CREDIT_DEBIT_CARD_EXPIRY", 0.9)
			return true
		}
		return false
	}
	dashOrSpace := sepSet == "" || sepSet == " " || sepSet == "-"
	gl := groupLens(gs)
	if !whole {
		if nd == 9 && gl == "3,2,4" && sepSet == "-" && want.has("US_SOCIAL_SECURITY_NUMBER") && ssnValid(ds) {
			d.add(start, end, "US_SOCIAL_SECURITY_NUMBER", 0.9)
			return true
		}
		if nd >= 13 && nd <= 19 && dashOrSpace && want.has("CREDIT_DEBIT_CARD_NUMBER") && ds[0] >= '1' && ds[0] <= '6' &&
			luhn(ds) && !allSame(ds) && cardGroups(gs) {
			d.add(start, end, "CREDIT_DEBIT_CARD_NUMBER", 1)
			return true
		}
		return false
	}

	if nd == 9 && dashOrSpace && want.has("US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER") && itinValid(ds) &&
		(gl == "3,2,4" || hasContext(lower, start, end, ctxITIN, 40, 0)) {
		d.add(start, end, "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER", 0.9)
		return true
	}
	if nd == 9 && dashOrSpace && want.has("US_SOCIAL_SECURITY_NUMBER") && ssnValid(ds) &&
		((gl == "3,2,4" && (sepSet == "-" || hasContext(lower, start, end, ctxSSN, 40, 0))) ||
			(gl == "9" && hasContext(lower, start, end, ctxSSN, 40, 0))) {
		d.add(start, end, "US_SOCIAL_SECURITY_NUMBER", 0.95)
		return true
	}
	if nd == 9 && gl == "9" && want.has("US_BANK_ROUTING_NUMBER") && abaValid(ds) && hasContext(lower, start, end, ctxRouting, 40, 0) {
		d.add(start, end, "US_BANK_ROUTING_NUMBER", 0.9)
		return true
	}
	if nd == 9 && want.has("CA_SOCIAL_INSURANCE_NUMBER") && dashOrSpace && luhn(ds) && hasContext(lower, start, end, ctxSIN, 40, 0) {
		d.add(start, end, "CA_SOCIAL_INSURANCE_NUMBER", 0.9)
		return true
	}
	if nd == 10 && want.has("UK_NATIONAL_HEALTH_SERVICE_NUMBER") && dashOrSpace && nhsValid(ds) && hasContext(lower, start, end, ctxNHS, 40, 0) {
		d.add(start, end, "UK_NATIONAL_HEALTH_SERVICE_NUMBER", 0.9)
		return true
	}
	if nd == 10 && gl == "10" && want.has("UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER") && hasContext(lower, start, end, ctxUTR, 40, 0) {
		d.add(start, end, "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER", 0.85)
		return true
	}
	if nd == 10 && want.has("CA_HEALTH_NUMBER") && dashOrSpace && hasContext(lower, start, end, ctxCAHealth, 40, 0) {
		d.add(start, end, "CA_HEALTH_NUMBER", 0.85)
		return true
	}
	if nd == 9 && gl == "9" && want.has("US_PASSPORT_NUMBER") && hasContext(lower, start, end, ctxPassport, 40, 0) {
		d.add(start, end, "US_PASSPORT_NUMBER", 0.85)
		return true
	}
	if nd >= 12 && nd <= 19 && dashOrSpace && want.has("CREDIT_DEBIT_CARD_NUMBER") && t[start] != '+' && t[start] != '(' &&
		ds[0] >= '1' && ds[0] <= '6' && luhn(ds) && !allSame(ds) && cardGroups(gs) {
		d.add(start, end, "CREDIT_DEBIT_CARD_NUMBER", 1)
		return true
	}
	if nd >= 8 && nd <= 17 && gl == itoa(nd) && want.has("US_BANK_ACCOUNT_NUMBER") && hasContext(lower, start, end, ctxAccount, 40, 0) {
		d.add(start, end, "US_BANK_ACCOUNT_NUMBER", 0.8)
		return true
	}
	if want.has("PHONE") && phoneLike(t, start, end, ext, gs, nd, sepSet, lower) && !otherIDContext(lower, start, end) {
		d.add(start, ext, "PHONE", 0.85)
		return true
	}
	if nd >= 3 && nd <= 4 && len(gs) == 1 && want.has("CREDIT_DEBIT_CARD_CVV") && hasContext(lower, start, end, ctxCVV, 24, 0) {
		d.add(start, end, "CREDIT_DEBIT_CARD_CVV", 0.85)
		return true
	}
	if nd >= 4 && nd <= 6 && len(gs) == 1 && want.has("PIN") && hasContext(lower, start, end, ctxPIN, 20, 0) {
		d.add(start, end, "PIN", 0.85)
		return true
	}
	if nd >= 1 && nd <= 3 && len(gs) == 1 && want.has("AGE") && ageLike(lower, start, end, ds) {
		d.add(start, end, "AGE", 0.85)
		return true
	}
	return false
}

// seps returns the distinct separator bytes of raw, in order of appearance.
func seps(raw string) string {
	var b [8]byte
	s := b[:0]
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if isDigit(c) {
			continue
		}
		if strings.IndexByte(string(s), c) < 0 && len(s) < len(b) {
			s = append(s, c)
		}
	}
	return string(s)
}

func groupLens(gs []group) string {
	var sb strings.Builder
	for i, g := range gs {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(itoa(g.end - g.start))
	}
	return sb.String()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func allSame(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] != s[0] {
			return false
		}
	}
	return true
}

// cardGroups accepts an undivided number or groups of 3 to 6 digits (4-4-4-4,
// 4-6-5, 4-4-4-4-3, …).
func cardGroups(gs []group) bool {
	if len(gs) == 1 {
		return true
	}
	for _, g := range gs {
		if l := g.end - g.start; l < 3 || l > 6 {
			return false
		}
	}
	return true
}

// looksLikeDate recognises d/m/y, y-m-d and similar forms, and times.
func looksLikeDate(raw string, gs []group, t string) bool {
	if len(gs) < 2 || len(gs) > 3 {
		return false
	}
	s := seps(raw)
	if s != "/" && s != "-" && s != "." {
		return false
	}
	num := func(g group) int {
		n := 0
		for i := g.start; i < g.end; i++ {
			n = n*10 + int(t[i]-'0')
		}
		return n
	}
	a, b := num(gs[0]), num(gs[1])
	dm := func(x, y int) bool { return x >= 1 && y >= 1 && ((x <= 31 && y <= 12) || (x <= 12 && y <= 31)) }
	l := groupLens(gs)
	switch l {
	case "4,1,1", "4,2,2", "4,1,2", "4,2,1":
		return dm(num(gs[2]), b)
	case "1,1,4", "1,2,4", "2,1,4", "2,2,4", "2,2,2", "1,1,2", "1,2,2", "2,1,2":
		return dm(a, b)
	case "1,2", "2,2", "2,4", "1,4":
		return s == "/" && a >= 1 && a <= 12
	}
	return false
}

// otherIDContext reports whether the words before a number introduce an
// identifier other than a phone number (whose checksum then failed).
func otherIDContext(lower string, start, end int) bool {
	for _, ks := range [][]string{ctxSSN, ctxRouting, ctxAccount, ctxPassport, ctxNHS, ctxSIN, ctxUTR, ctxCAHealth, ctxITIN, {"card", "iban", "credit", "debit", "visa", "mastercard"}} {
		if hasContext(lower, start, end, ks, 32, 0) {
			return true
		}
	}
	return false
}

// phoneLike decides whether a digit run is a phone number: 7–15 digits and
// either an international prefix, parentheses, a conventional grouping, or a
// phone context word nearby.
func phoneLike(t string, start, end, ext int, gs []group, nd int, sepSet, lower string) bool {
	if nd < 7 || nd > 15 {
		return false
	}
	if strings.ContainsAny(sepSet, "/") {
		return false
	}
	if end < len(t) && t[end] == ':' {
		return false // a time
	}
	if len(gs) >= 3 && looksLikeDate(t[start:gs[2].end], gs[:3], t) {
		return false // a date and time
	}
	intl := t[start] == '+' || strings.HasPrefix(t[start:end], "00") && len(gs) > 1
	paren := strings.ContainsAny(sepSet, "()")
	ctx := hasContext(lower, start, end, ctxPhone, 48, 0) || hasContext(lower, end, end, ctxPhoneAfter, 0, 12)
	if len(gs) == 1 {
		// An undivided number is a phone only with context or a + prefix.
		return (intl || ctx) && nd >= 9
	}
	if sepSet == "." && len(gs) == 2 {
		return false // a decimal number
	}
	for _, g := range gs {
		if l := g.end - g.start; l > 5 && !(l <= 8 && len(gs) == 2) && !(intl && l <= 7) {
			return false
		}
	}
	if intl || paren || ctx {
		return true
	}
	// Grouped numbers without context: 9–12 digits in at least three
	// groups of 2–4.
	if nd >= 9 && nd <= 12 && len(gs) >= 3 {
		for _, g := range gs {
			if l := g.end - g.start; l < 2 || l > 4 {
				return false
			}
		}
		return true
	}
	return nd >= 9 && len(gs) == 2 && ext > end
}

// ageLike recognises "42 years old", "42-year-old", "aged 42", "age: 42".
func ageLike(lower string, start, end int, ds string) bool {
	n := 0
	for i := 0; i < len(ds); i++ {
		n = n*10 + int(ds[i]-'0')
	}
	if n == 0 || n > 130 {
		return false
	}
	after := lower[end:min(end+16, len(lower))]
	after = strings.TrimLeft(after, " -")
	after = strings.ReplaceAll(after, "-", " ")
	if strings.HasPrefix(after, "years old") || strings.HasPrefix(after, "year old") || strings.HasPrefix(after, "years of age") ||
		strings.HasPrefix(after, "yo ") || strings.HasPrefix(after, "y/o") || strings.HasPrefix(after, "yrs old") {
		return true
	}
	before := lower[max(start-12, 0):start]
	before = strings.TrimRight(before, " :=")
	for _, k := range ctxAge {
		if strings.HasSuffix(before, k) {
			i := len(before) - len(k)
			if i == 0 || !isAlpha(before[i-1]) {
				return true
			}
		}
	}
	return false
}

// emails finds addresses around each '@'.
func (d *piiScan) emails() {
	t := d.text
	for off := 0; ; {
		k := strings.IndexByte(t[off:], '@')
		if k < 0 {
			return
		}
		at := off + k
		off = at + 1
		s := at
		for s > 0 && isLocal(t[s-1]) {
			s--
		}
		for s < at && t[s] == '.' {
			s++
		}
		e := at + 1
		dots := 0
		lastDot := -1
		for e < len(t) && (isAlnum(t[e]) || t[e] == '-' || (t[e] == '.' && e+1 < len(t) && isAlnum(t[e+1]))) {
			if t[e] == '.' {
				dots++
				lastDot = e
			}
			e++
		}
		if s == at || dots == 0 || e-lastDot-1 < 2 {
			continue
		}
		tld := t[lastDot+1 : e]
		if !allAlpha(tld) {
			continue
		}
		d.add(s, e, "EMAIL", 1)
		off = e
	}
}

func isLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func allAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlpha(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

// urls finds http(s):// and www. links.
func (d *piiScan) urls() {
	l := d.lower
	for _, pfx := range []string{"http://", "https://", "www."} {
		for off := 0; ; {
			k := strings.Index(l[off:], pfx)
			if k < 0 {
				break
			}
			s := off + k
			off = s + len(pfx)
			if pfx == "www." && s >= 3 && strings.HasSuffix(l[:s], "://") {
				continue // already part of an http(s) URL
			}
			if s > 0 && isAlnum(l[s-1]) {
				continue
			}
			e := off
			for e < len(l) && !isURLStop(l[e]) {
				e++
			}
			for e > off && strings.IndexByte(".,;:!?)]}'\"", l[e-1]) >= 0 {
				e--
			}
			if e-off < 3 || !strings.Contains(l[off:e], ".") && pfx == "www." {
				continue
			}
			d.add(s, e, "URL", 1)
			off = e
		}
	}
}

func isURLStop(c byte) bool {
	return c <= ' ' || c == '<' || c == '>' || c == '"' || c == '`' || c == '{' || c == '}' || c == '|' || c == '\\' || c == '^'
}

// ibans finds IBANs: two upper-case letters, two check digits, then 11–30
// alphanumerics, optionally in groups of four separated by single spaces,
// validated against the country's length and mod-97.
func (d *piiScan) ibans() {
	t := strings.ToUpper(d.text)
	if len(t) != len(d.text) {
		t = d.text // non-ASCII case mapping changed lengths; stay exact
	}
	for i := 0; i+15 <= len(t); i++ {
		if !isUpper(t[i]) || !isUpper(t[i+1]) || !isDigit(t[i+2]) || !isDigit(t[i+3]) {
			continue
		}
		if i > 0 && isAlnum(t[i-1]) {
			continue
		}
		n, ok := ibanLengths[t[i:i+2]]
		if !ok {
			continue
		}
		var b [34]byte
		s := b[:0]
		j := i
		for j < len(t) && len(s) < n {
			c := t[j]
			if isDigit(c) || isUpper(c) {
				s = append(s, c)
				j++
			} else if c == ' ' && j+1 < len(t) && isAlnum(t[j+1]) && len(s)%4 == 0 {
				j++
			} else {
				break
			}
		}
		if len(s) != n || (j < len(t) && isAlnum(t[j])) {
			continue
		}
		if ibanValid(string(s)) {
			d.add(i, j, "INTERNATIONAL_BANK_ACCOUNT_NUMBER", 1)
			i = j
		}
	}
}

var awsKeyPrefixes = []string{"AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA", "ABIA", "ACCA"}

// awsAccessKeys finds access key IDs: a known four-letter prefix and 16
// upper-case alphanumerics.
func (d *piiScan) awsAccessKeys() {
	t := d.text
	for _, p := range awsKeyPrefixes {
		for off := 0; ; {
			k := strings.Index(t[off:], p)
			if k < 0 {
				break
			}
			s := off + k
			off = s + 4
			e := s + 20
			if e > len(t) || (s > 0 && isAlnum(t[s-1])) || (e < len(t) && isAlnum(t[e])) {
				continue
			}
			ok := true
			for i := s + 4; i < e; i++ {
				if !isUpper(t[i]) && !isDigit(t[i]) {
					ok = false
					break
				}
			}
			if ok {
				d.add(s, e, "AWS_ACCESS_KEY", 1)
			}
		}
	}
}

// contextWindow is how far after its keyword a context rule's pattern may
// match. Patterns run only on these windows, never on the whole text, which
// keeps the cost proportional to the number of keyword occurrences.
const contextWindow = 160

// contextRule runs rule c's pattern near each occurrence of one of its keys
// (as a whole word) and records accepted matches. A rule whose pattern
// starts with its keyword (c.atKey) is tried once, anchored, at each
// occurrence: a failed attempt costs a few steps instead of a scan of the
// window. Otherwise, and when a text has more than maxAnchoredKeys
// occurrences (each anchored attempt has a fixed cost of a few
// microseconds), the pattern runs on the window after each occurrence,
// overlapping windows merged, so text dense with keys costs one regex pass
// over the merged span, not one per occurrence.
func (d *piiScan) contextRule(c contextRule, hits []keyHit) {
	type span struct{ s, e int }
	var wins []span
	anchored := c.atKey != nil && len(hits) <= maxAnchoredKeys
	for _, h := range hits {
		if anchored {
			// The pattern's leading \b needs a non-word byte before the
			// key; an anchored attempt would see a text start there.
			if h.pos > 0 && isWordChar(d.text[h.pos-1]) {
				continue
			}
			w := d.text[h.pos:min(h.pos+contextWindow, len(d.text))]
			m := c.atKey.FindStringSubmatchIndex(w)
			if m == nil {
				continue
			}
			s, e := m[2*c.group], m[2*c.group+1]
			if s < 0 || (c.valid != nil && !c.valid(w[s:e])) {
				continue
			}
			d.add(h.pos+s, h.pos+e, c.typ, 0.9)
			continue
		}
		base := h.pos
		if c.after {
			base = h.end
		}
		wins = append(wins, span{base, min(base+contextWindow, len(d.text))})
	}
	if len(wins) == 0 {
		return
	}
	sort.Slice(wins, func(i, j int) bool { return wins[i].s < wins[j].s })
	merged := wins[:1]
	for _, w := range wins[1:] {
		last := &merged[len(merged)-1]
		if w.s <= last.e {
			last.e = max(last.e, w.e)
			continue
		}
		merged = append(merged, w)
	}
	for _, w := range merged {
		for _, m := range c.re.FindAllStringSubmatchIndex(d.text[w.s:w.e], -1) {
			s, e := m[2*c.group], m[2*c.group+1]
			if s < 0 || (c.valid != nil && !c.valid(d.text[w.s+s:w.s+e])) {
				continue
			}
			d.add(w.s+s, w.s+e, c.typ, 0.9)
		}
	}
}

func isWordChar(c byte) bool { return isAlnum(c) || c == '_' }

// maxAnchoredKeys is how many key occurrences of one rule are tried one by
// one before contextRule switches to merged windows.
const maxAnchoredKeys = 32

// keyHit is one whole-word occurrence of a context rule's key in the
// lower-cased text.
type keyHit struct{ pos, end int }

// ruleKeys indexes every context rule's keys by first byte, so that one
// pass over the text finds the keys of all rules.
var ruleKeys = func() (idx [256][]struct {
	rule int
	key  string
}) {
	for r, c := range contextRules {
		for _, k := range c.keys {
			idx[k[0]] = append(idx[k[0]], struct {
				rule int
				key  string
			}{r, k})
		}
	}
	return idx
}()

// contextKeyHits returns, per context rule, the whole-word occurrences
// of its keys in l (a lower-cased text), in text order. A key occurs as a
// whole word when no ASCII letter touches either end.
func contextKeyHits(l string, want TypeSet) [][]keyHit {
	hits := make([][]keyHit, len(contextRules))
	for pos := 0; pos < len(l); pos++ {
		if pos > 0 && isAlpha(l[pos-1]) {
			continue
		}
		for _, rk := range ruleKeys[l[pos]] {
			end := pos + len(rk.key)
			if end > len(l) || l[pos:end] != rk.key || (end < len(l) && isAlpha(l[end])) {
				continue
			}
			if want.has(contextRules[rk.rule].typ) {
				hits[rk.rule] = append(hits[rk.rule], keyHit{pos, end})
			}
		}
	}
	return hits
}

func isHex(c byte) bool { return isDigit(c) || ((c|32) >= 'a' && (c|32) <= 'f') }

// hexColons finds IPv6 and MAC addresses: maximal runs of hex digits,
// colons, dashes and dots around each colon or dash, validated by
// netip.ParseAddr (IPv6) or the six-pair shape (MAC).
func (d *piiScan) hexColons() {
	t := d.text
	last := -1
	for i := 0; i < len(t); i++ {
		c := t[i]
		if (c != ':' && c != '-') || i <= last {
			continue
		}
		s, e := i, i
		for s > 0 && (isHex(t[s-1]) || t[s-1] == ':' || t[s-1] == '-' || t[s-1] == '.') {
			s--
		}
		for e < len(t) && (isHex(t[e]) || t[e] == ':' || t[e] == '-' || t[e] == '.') {
			e++
		}
		last = e
		for s < e && (t[s] == '-' || t[s] == '.') {
			s++
		}
		for e > s && (t[e-1] == '-' || t[e-1] == '.' || (t[e-1] == ':' && !(e-s >= 2 && t[e-2] == ':'))) {
			e--
		}
		if (s > 0 && isAlnum(t[s-1])) || (e < len(t) && isAlnum(t[e])) {
			continue
		}
		run := t[s:e]
		if d.want.has("MAC_ADDRESS") && macLike(run) {
			d.add(s, e, "MAC_ADDRESS", 0.9)
			continue
		}
		if d.want.has("IP_ADDRESS") && strings.Count(run, ":") >= 2 && !strings.Contains(run, "-") {
			if a, err := netip.ParseAddr(run); err == nil && a.Is6() {
				d.add(s, e, "IP_ADDRESS", 0.95)
			}
		}
	}
}

// macLike reports whether s is six hex pairs joined by ':' or by '-'.
func macLike(s string) bool {
	if len(s) != 17 {
		return false
	}
	sep := s[2]
	if sep != ':' && sep != '-' {
		return false
	}
	for i := 0; i < 17; i++ {
		if i%3 == 2 {
			if s[i] != sep {
				return false
			}
		} else if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// contextRule is a pattern that is only tried in the window at each
// occurrence of one of its keys (after the key when after is set); group
// selects the submatch that is the entity.
type contextRule struct {
	typ   string
	keys  []string
	after bool
	re    *regexp.Regexp
	group int
	valid func(string) bool
	// atKey is re anchored at the start of its input, set (by init) for
	// rules whose pattern begins with \b and one of the keys, so that every
	// match starts at a key occurrence.
	atKey *regexp.Regexp
}

func init() {
	for i := range contextRules {
		c := &contextRules[i]
		if !c.after && c.typ != "AWS_SECRET_KEY" {
			c.atKey = regexp.MustCompile(`^(?:` + c.re.String() + `)`)
		}
	}
}

func hasDigit(s string) bool { return strings.IndexAny(s, "0123456789") >= 0 }

var contextRules = []contextRule{
	{typ: "PASSWORD", keys: []string{"password", "passwd", "pwd", "passcode", "passphrase"},
		re: regexp.MustCompile(`(?i)\b(?:password|passwd|pwd|passcode|passphrase)\b(?:\s+is)?\s*[:=]?\s*["']?([^\s"']{4,64})`), group: 1,
		valid: func(s string) bool { return !commonWord[strings.ToLower(s)] }},
	{typ: "USERNAME", keys: []string{"username", "user name", "user id", "userid", "login", "handle"},
		re: regexp.MustCompile(`(?i)\b(?:username|user name|user id|userid|login|handle)\b(?:\s+is)?\s*[:=]?\s*["']?(@?[A-Za-z0-9._-]{3,64})`), group: 1,
		valid: func(s string) bool { return !commonWord[strings.ToLower(s)] }},
	{typ: "DRIVER_ID", keys: []string{"driver", "drivers", "driving"},
		re: regexp.MustCompile(`(?i)\b(?:driver'?s?|driving)\s+licen[cs]e(?:\s+(?:number|no\.?|#|id))?(?:\s+is)?\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{4,19})\b`), group: 1,
		valid: hasDigit},
	{typ: "LICENSE_PLATE", keys: []string{"license", "licence", "number", "plate", "registration"},
		re: regexp.MustCompile(`(?i)\b(?:licen[cs]e\s+plate|number\s+plate|plate\s+number|registration\s+number|plate)(?:\s+(?:number|no\.?))?(?:\s+is)?\s*[:#]?\s*([A-Z0-9]{1,4}[ -]?[A-Z0-9]{1,4}[ -]?[A-Z0-9]{0,4})\b`), group: 1,
		valid: hasDigit},
	{typ: "US_PASSPORT_NUMBER", keys: ctxPassport,
		re: regexp.MustCompile(`(?i)\bpassport\b(?:\s+(?:number|no\.?|#))?(?:\s+is)?\s*[:#]?\s*([A-Z][0-9]{8})\b`), group: 1},
	{typ: "SWIFT_CODE", keys: []string{"swift", "bic"},
		re: regexp.MustCompile(`(?i)\b(?:swift|bic)\b(?:\s*/\s*bic)?(?:\s+(?:code|number))?(?:\s+is)?\s*[:#]?\s*([A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)\b`), group: 1,
		valid: func(s string) bool { return strings.ToUpper(s) == s }},
	{typ: "UK_NATIONAL_INSURANCE_NUMBER", keys: []string{"insurance", "nino", "ni number", "ni no"}, after: true,
		re: regexp.MustCompile(`\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D])\b`), group: 1,
		valid: func(s string) bool {
			p := s[:2]
			return p != "BG" && p != "GB" && p != "NK" && p != "KN" && p != "TN" && p != "NT" && p != "ZZ"
		}},
	{typ: "VEHICLE_IDENTIFICATION_NUMBER", keys: []string{"vin", "vehicle identification", "chassis"}, after: true,
		re: regexp.MustCompile(`\b([A-HJ-NPR-Z0-9]{17})\b`), group: 1,
		valid: func(s string) bool { return hasDigit(s) && vinValid(s) }},
	{typ: "AWS_SECRET_KEY", keys: []string{"secret", "aws"},
		re: regexp.MustCompile(`(?i)(?:aws|secret)[A-Za-z_ -]{0,30}?(?:key)?["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`), group: 1,
		valid: func(s string) bool {
			return strings.ContainsAny(s, "0123456789") && strings.ToLower(s) != s && strings.ToUpper(s) != s
		}},
}

// commonWord holds words that follow "password"/"username" in prose and are
// not secrets.
var commonWord = map[string]bool{
	"is": true, "was": true, "and": true, "the": true, "for": true, "that": true, "with": true, "reset": true,
	"manager": true, "field": true, "policy": true, "change": true, "again": true, "here": true, "below": true,
	"please": true, "required": true, "protected": true, "should": true, "must": true, "will": true, "has": true,
	"have": true, "from": true, "this": true, "your": true, "their": true, "into": true, "page": true, "form": true,
}
