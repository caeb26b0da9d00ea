package guardrail

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/outcrop/outcrop/internal/llm"
)

// ModelEntityDetector is an EntityDetector that asks a chat model to list
// the names and postal addresses in a text, then finds each listed string
// in the text. It calls the model through an llm.Provider, normally a
// deployment configured in Outcrop itself (the local engine or an upstream).
//
// The request is a system instruction plus three worked examples as earlier
// chat turns, then the text (in windows of at most EntityWindow bytes, cut
// at line or sentence ends). The answer is read as "NAME: …" / "ADDRESS: …"
// lines or {"type":…,"text":…} objects. A listed value is looked up in the
// text ignoring case and spacing; if it is not there as a whole, its words
// of three or more letters that are capitalised in the text are marked,
// adjacent ones merged into one span. Nothing that is not in the text can be
// marked, so invented values are dropped.
//
// Its quality is the model's: docs/GUARDRAILS.md measures it with
// SmolLM2-135M, which misses most names and nearly all addresses. Measure
// it on your model before relying on it.
type ModelEntityDetector struct {
	Provider llm.Provider
	// Model is the model ID put in the request (informational for most
	// providers).
	Model string
	// MaxTokens bounds the model's answer per window; default 96.
	MaxTokens int
}

var _ EntityDetector = (*ModelEntityDetector)(nil)

// EntityWindow is the largest piece of text sent to the entity model in one
// request; longer texts are split at line or sentence ends.
const EntityWindow = 1000

const entitySystem = "You extract personal names and street addresses from text. " +
	"Answer with lines 'NAME: <name>' or 'ADDRESS: <address>', copied exactly from the text. " +
	"Answer NONE if there are none."

// entityShots are the worked examples sent before the text (written for
// Outcrop, not taken from any dataset).
var entityShots = [][2]string{
	{"Please send the parcel to Maria Lopez at 45 Elm Street, Austin, TX 78701.", "NAME: Maria Lopez\nADDRESS: 45 Elm Street, Austin, TX 78701"},
	{"What is the weather tomorrow?", "NONE"},
	{"Yesterday Tom Becker called about his account.", "NAME: Tom Becker"},
	{"Ship it to 17 Rue Lepic\n Apt. 4\n Paris\n France 75018 by Friday.", "ADDRESS: 17 Rue Lepic\n Apt. 4\n Paris\n France 75018"},
}

// DetectEntities implements EntityDetector.
func (d *ModelEntityDetector) DetectEntities(ctx context.Context, text string, types []string) ([]Span, error) {
	want := map[string]bool{}
	for _, t := range types {
		want[t] = true
	}
	maxTokens := d.MaxTokens
	if maxTokens <= 0 {
		maxTokens = 96
	}
	var spans []Span
	for off := 0; off < len(text); {
		end := windowEnd(text, off, EntityWindow)
		chunk := text[off:end]
		if strings.TrimSpace(chunk) != "" {
			answer, err := askModelShots(ctx, d.Provider, d.Model, entitySystem, entityShots, chunk, maxTokens)
			if err != nil {
				return nil, err
			}
			for _, e := range parseEntityAnswer(answer) {
				if !want[e.typ] {
					continue
				}
				for _, r := range findEntity(chunk, e.text) {
					spans = append(spans, Span{Start: off + r.Start, End: off + r.End, Type: e.typ, Score: r.Score})
				}
			}
		}
		off = end
	}
	return resolve(spans), nil
}

// windowEnd returns where the window starting at off ends: at most max bytes
// on, after the last newline or sentence end in its second half, else on a
// rune boundary.
func windowEnd(text string, off, max int) int {
	if len(text)-off <= max {
		return len(text)
	}
	w := text[off : off+max]
	if i := strings.LastIndexByte(w, '\n'); i >= max/2 {
		return off + i + 1
	}
	if i := strings.LastIndex(w, ". "); i >= max/2 {
		return off + i + 2
	}
	end := off + max
	for end > off && !utf8.RuneStart(text[end]) {
		end--
	}
	return end
}

type entityAnswer struct{ typ, text string }

// parseEntityAnswer reads "NAME: x" / "ADDRESS: x" lines and
// {"type":"NAME","text":"x"} objects from a model's answer.
func parseEntityAnswer(answer string) []entityAnswer {
	var out []entityAnswer
	for _, obj := range jsonObjects(answer) {
		var e struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if json.Unmarshal([]byte(obj), &e) == nil && e.Type != "" {
			out = append(out, entityAnswer{strings.ToUpper(e.Type), e.Text})
		}
	}
	for _, line := range strings.Split(answer, "\n") {
		line = strings.TrimLeft(strings.TrimSpace(line), "-* ")
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k = strings.ToUpper(strings.TrimSpace(k))
		if k != "NAME" && k != "ADDRESS" {
			continue
		}
		v = strings.TrimSuffix(strings.Trim(strings.TrimSpace(v), `"'`), ".")
		out = append(out, entityAnswer{k, v})
	}
	return out
}

// entityStop are words never marked on their own by the word fallback.
var entityStop = map[string]bool{
	"the": true, "and": true, "name": true, "address": true, "none": true, "mrs": true, "not": true,
	"street": true, "apt": true, "suite": true, "for": true, "with": true, "from": true,
}

// findEntity returns every place value occurs in text (Type unset): the
// whole value ignoring case and runs of spaces (score 0.7), or else its words
// that are capitalised in the text (score 0.5).
func findEntity(text, value string) []Span {
	fields := strings.Fields(value)
	if len(strings.Join(fields, "")) < 2 {
		return nil
	}
	var out []Span
	for off := 0; off < len(text); {
		s, e := indexFold(text[off:], fields)
		if s < 0 {
			break
		}
		out = append(out, Span{Start: off + s, End: off + e, Score: 0.7})
		off += e
	}
	if len(out) > 0 {
		return out
	}
	var words [][2]int
	for _, f := range strings.FieldsFunc(value, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if utf8.RuneCountInString(f) < 3 || entityStop[strings.ToLower(f)] {
			continue
		}
		for off := 0; off < len(text); {
			i := indexFoldWord(text[off:], f)
			if i < 0 {
				break
			}
			s := off + i
			if r, _ := utf8.DecodeRuneInString(text[s:]); unicode.IsUpper(r) {
				words = append(words, [2]int{s, s + len(f)})
			}
			off = s + len(f)
		}
	}
	sort.Slice(words, func(i, j int) bool { return words[i][0] < words[j][0] })
	var merged [][2]int
	for _, w := range words {
		if n := len(merged); n > 0 && w[0] >= merged[n-1][1] && w[0]-merged[n-1][1] <= 3 &&
			strings.Trim(text[merged[n-1][1]:w[0]], " \t\n,.-") == "" {
			merged[n-1][1] = w[1]
			continue
		}
		if n := len(merged); n > 0 && w[0] < merged[n-1][1] {
			continue
		}
		merged = append(merged, w)
	}
	for _, m := range merged {
		out = append(out, Span{Start: m[0], End: m[1], Score: 0.5})
	}
	return out
}

// indexFold finds fields in s, in order, separated only by white space,
// ignoring case; it returns the byte range or -1, -1.
func indexFold(s string, fields []string) (int, int) {
	for start := 0; start < len(s); {
		i := indexFoldAt(s[start:], fields[0])
		if i < 0 {
			return -1, -1
		}
		b := start + i
		p := b + len(fields[0])
		ok := true
		for _, f := range fields[1:] {
			q := p
			for q < len(s) && (s[q] == ' ' || s[q] == '\t' || s[q] == '\n' || s[q] == '\r') {
				q++
			}
			if q == p || q+len(f) > len(s) || !strings.EqualFold(s[q:q+len(f)], f) {
				ok = false
				break
			}
			p = q + len(f)
		}
		if ok {
			return b, p
		}
		_, sz := utf8.DecodeRuneInString(s[b:])
		start = b + sz
	}
	return -1, -1
}

// indexFoldAt is a case-insensitive strings.Index for a needle whose case
// variants have the same byte length (true for the scripts seen in names).
func indexFoldAt(s, needle string) int {
	n := len(needle)
	for i := 0; i+n <= len(s); i++ {
		if utf8.RuneStart(s[i]) && strings.EqualFold(s[i:i+n], needle) {
			return i
		}
	}
	return -1
}

// indexFoldWord is indexFoldAt restricted to whole words.
func indexFoldWord(s, word string) int {
	for off := 0; off < len(s); {
		i := indexFoldAt(s[off:], word)
		if i < 0 {
			return -1
		}
		b := off + i
		e := b + len(word)
		before, _ := utf8.DecodeLastRuneInString(s[:b])
		after, _ := utf8.DecodeRuneInString(s[e:])
		if (b == 0 || !isWordRune(before)) && (e == len(s) || !isWordRune(after)) {
			return b
		}
		_, sz := utf8.DecodeRuneInString(s[b:])
		off = b + sz
	}
	return -1
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

// askModel sends one user turn (and an optional system prompt) and returns
// the text of the answer.
func askModel(ctx context.Context, p llm.Provider, model, system, user string, maxTokens int) (string, error) {
	return askModelShots(ctx, p, model, system, nil, user, maxTokens)
}

// askModelShots is askModel with worked examples sent first as earlier
// user/assistant turns.
func askModelShots(ctx context.Context, p llm.Provider, model, system string, shots [][2]string, user string, maxTokens int) (string, error) {
	if p == nil {
		return "", fmt.Errorf("guardrail model detector: no provider configured")
	}
	if maxTokens <= 0 {
		maxTokens = 512
	}
	zero := 0.0
	var msgs []llm.Message
	for _, sh := range shots {
		msgs = append(msgs, llm.Message{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(sh[0])}},
			llm.Message{Role: llm.RoleAssistant, Content: []llm.Block{llm.TextBlock(sh[1])}})
	}
	msgs = append(msgs, llm.Message{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(user)}})
	req := &llm.Request{
		Model:     model,
		Messages:  msgs,
		Inference: llm.InferenceConfig{MaxTokens: &maxTokens, Temperature: &zero},
	}
	if system != "" {
		req.System = []llm.Block{llm.TextBlock(system)}
	}
	s, err := p.ConverseStream(ctx, req)
	if err != nil {
		return "", fmt.Errorf("guardrail model detector: %w", err)
	}
	resp, err := llm.Collect(s)
	if err != nil {
		return "", fmt.Errorf("guardrail model detector: %w", err)
	}
	var b strings.Builder
	for _, blk := range resp.Message.Content {
		if blk.Kind == llm.KindText {
			b.WriteString(blk.Text)
		}
	}
	return b.String(), nil
}

// jsonObjects returns the flat {…} substrings of s.
func jsonObjects(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return out
		}
		out = append(out, s[i:i+j+1])
		s = s[i+j+1:]
	}
}

// LlamaGuardClassifier is a Classifier that asks a Llama Guard 3 model
// (served by any configured deployment, e.g. Ollama's llama-guard3) whether
// the text is safe, and maps its hazard codes onto Bedrock categories:
// S1 violent crimes, S9 indiscriminate weapons and S11 self-harm → VIOLENCE;
// S2 non-violent crimes, S6 specialised advice, S7 privacy, S8 IP and S13
// elections → MISCONDUCT; S3, S4 and S12 → SEXUAL; S5 defamation → INSULTS;
// S10 hate → HATE; S14 code-interpreter abuse → PROMPT_ATTACK. Llama Guard
// answers yes or no, so a flagged category gets HIGH confidence and the
// others NONE. Fallback, if set, scores PROMPT_ATTACK (which Llama Guard does
// not cover) and any category the model did not flag.
type LlamaGuardClassifier struct {
	Provider llm.Provider
	Model    string
	Fallback Classifier
}

var _ Classifier = (*LlamaGuardClassifier)(nil)

var llamaGuardMap = map[string]string{
	"S1": "VIOLENCE", "S2": "MISCONDUCT", "S3": "SEXUAL", "S4": "SEXUAL", "S5": "INSULTS", "S6": "MISCONDUCT",
	"S7": "MISCONDUCT", "S8": "MISCONDUCT", "S9": "VIOLENCE", "S10": "HATE", "S11": "VIOLENCE", "S12": "SEXUAL",
	"S13": "MISCONDUCT", "S14": "PROMPT_ATTACK",
}

var llamaGuardCode = regexp.MustCompile(`\bS1[0-4]\b|\bS[1-9]\b`)

// Classify implements Classifier. Llama Guard's chat template turns the
// user turn into its moderation prompt.
func (c *LlamaGuardClassifier) Classify(ctx context.Context, text string) (Scores, [6]string, error) {
	var s Scores
	var conf [6]string
	if c.Fallback != nil {
		var err error
		if s, conf, err = c.Fallback.Classify(ctx, text); err != nil {
			return s, conf, err
		}
	}
	for i := range conf {
		if conf[i] == "" {
			conf[i] = ConfNone
		}
	}
	answer, err := askModel(ctx, c.Provider, c.Model, "", text, 32)
	if err != nil {
		return s, conf, err
	}
	answer = strings.ToLower(strings.TrimSpace(answer))
	if !strings.HasPrefix(answer, "unsafe") {
		return s, conf, nil
	}
	for _, code := range llamaGuardCode.FindAllString(strings.ToUpper(answer), -1) {
		if cat, ok := llamaGuardMap[code]; ok {
			h := categoryIndex(cat)
			s[h], conf[h] = 1, ConfHigh
		}
	}
	return s, conf, nil
}
