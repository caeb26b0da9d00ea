package guardrail

import (
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
)

// Categories are the content-filter categories, in the order of the
// classifier's heads.
var Categories = []string{"HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT", "PROMPT_ATTACK"}

// categoryIndex maps a category to its head.
func categoryIndex(c string) int {
	for i, x := range Categories {
		if x == c {
			return i
		}
	}
	return -1
}

// Confidence levels, as content-filter assessments report them.
const (
	ConfNone   = "NONE"
	ConfLow    = "LOW"
	ConfMedium = "MEDIUM"
	ConfHigh   = "HIGH"
)

// confRank orders confidences and strengths: NONE < LOW < MEDIUM < HIGH.
func confRank(s string) int {
	switch s {
	case ConfLow:
		return 1
	case ConfMedium:
		return 2
	case ConfHigh:
		return 3
	}
	return 0
}

// blocks reports whether a filter of the given strength acts on content
// classified with confidence conf: HIGH strength acts on LOW and above,
// MEDIUM on MEDIUM and above, LOW on HIGH only, NONE on nothing.
func blocks(strength, conf string) bool {
	s, c := confRank(strength), confRank(conf)
	return s > 0 && c > 0 && c >= 4-s
}

// Scores are per-category scores in [0,1], indexed like Categories.
type Scores [6]float64

// Classifier scores text for the content-filter categories. Implementations
// must be safe for concurrent use. The built-in one is a logistic
// regression over hashed n-grams (see Model); an external one can call a
// moderation model such as Llama Guard (see ModelClassifier).
type Classifier interface {
	// Classify returns a score in [0,1] per category and the confidence
	// bucket each score falls in.
	Classify(ctx context.Context, text string) (Scores, [6]string, error)
}

// Model is a multi-head logistic regression over hashed word unigrams,
// bigrams and character 4-grams, with per-head confidence thresholds chosen
// on a dev split. The zero value is unusable; see LoadModel.
type Model struct {
	Bits int
	// Weights[h][i] is head h's weight for hash bucket i.
	Weights [6][]float32
	Bias    [6]float32
	// Thresholds[h] are the probabilities at which confidence becomes LOW,
	// MEDIUM and HIGH.
	Thresholds [6][3]float32

	once  sync.Once
	inter []float32 // Weights interleaved for scoring; see interleaved
}

const modelMagic = "OCGM1\n"

// MarshalBinary encodes m with int8-quantised weights.
func (m *Model) MarshalBinary() ([]byte, error) {
	n := 1 << m.Bits
	out := []byte(modelMagic)
	out = append(out, byte(m.Bits), byte(len(Categories)))
	for h := range Categories {
		var mx float32
		for _, w := range m.Weights[h] {
			mx = max(mx, float32(math.Abs(float64(w))))
		}
		scale := mx / 127
		if scale == 0 {
			scale = 1
		}
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(m.Bias[h]))
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(scale))
		for _, t := range m.Thresholds[h] {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(t))
		}
		for i := 0; i < n; i++ {
			q := math.Round(float64(m.Weights[h][i] / scale))
			out = append(out, byte(int8(max(-127, min(127, q)))))
		}
	}
	return out, nil
}

// UnmarshalBinary decodes a model written by MarshalBinary.
func (m *Model) UnmarshalBinary(b []byte) error {
	if !strings.HasPrefix(string(b), modelMagic) || len(b) < len(modelMagic)+2 {
		return errors.New("guardrail model: bad header")
	}
	b = b[len(modelMagic):]
	bits, heads := int(b[0]), int(b[1])
	if bits < 8 || bits > 24 || heads != len(Categories) {
		return fmt.Errorf("guardrail model: bad dimensions %d/%d", bits, heads)
	}
	b = b[2:]
	n := 1 << bits
	m.Bits = bits
	for h := 0; h < heads; h++ {
		if len(b) < 20+n {
			return errors.New("guardrail model: truncated")
		}
		m.Bias[h] = math.Float32frombits(binary.LittleEndian.Uint32(b))
		scale := math.Float32frombits(binary.LittleEndian.Uint32(b[4:]))
		for k := 0; k < 3; k++ {
			m.Thresholds[h][k] = math.Float32frombits(binary.LittleEndian.Uint32(b[8+4*k:]))
		}
		b = b[20:]
		w := make([]float32, n)
		for i := 0; i < n; i++ {
			w[i] = float32(int8(b[i])) * scale
		}
		m.Weights[h] = w
		b = b[n:]
	}
	return nil
}

//go:embed model.bin
var modelBin []byte

var (
	builtinOnce  sync.Once
	builtinModel *Model
	builtinErr   error
)

// BuiltinModel returns the classifier embedded in the binary, trained by
// `go run ./internal/guardrail/cmd/guardeval -train`.
func BuiltinModel() (*Model, error) {
	builtinOnce.Do(func() {
		m := &Model{}
		if err := m.UnmarshalBinary(modelBin); err != nil {
			builtinErr = err
			return
		}
		builtinModel = m
	})
	return builtinModel, builtinErr
}

// Features calls f with the hash bucket of every feature of text, and
// returns the feature count. Train and Score use the same features.
func Features(text string, bits int, f func(uint32)) int {
	return featuresAt(text, bits, func(_ int, b uint32) { f(b) })
}

// featuresAt is Features with the byte offset at which each feature ends.
func featuresAt(text string, bits int, f func(pos int, bucket uint32)) int {
	mask := uint32(1)<<bits - 1
	n := 0
	// Words: ASCII letters and digits, case-folded; everything else
	// separates. Non-ASCII bytes are kept inside words.
	var prev uint32
	havePrev := false
	// Character 4-grams over the case-folded text with runs of
	// non-letters collapsed to one space.
	var win [4]byte
	wn := 0
	lastSpace := true
	i := 0
	for i < len(text) {
		// Next word.
		for i < len(text) && !isFeatureByte(text[i]) {
			i++
			if !lastSpace {
				win, wn = push(win, wn, ' ')
				if wn >= 4 {
					f(i, hash4(win)&mask)
					n++
				}
				lastSpace = true
			}
		}
		if i >= len(text) {
			break
		}
		h := uint32(2166136261)
		for i < len(text) && isFeatureByte(text[i]) {
			c := text[i]
			if c >= 'A' && c <= 'Z' {
				c += 32
			}
			h = (h ^ uint32(c)) * 16777619
			win, wn = push(win, wn, c)
			if wn >= 4 {
				f(i, hash4(win)&mask)
				n++
			}
			lastSpace = false
			i++
		}
		w := mix(h, 0x9e3779b1)
		f(i, w&mask)
		n++
		if havePrev {
			f(i, mix(prev*31+w, 0x85ebca6b)&mask)
			n++
		}
		prev, havePrev = w, true
	}
	// A length bucket, so that the model can learn a different prior for
	// short chat turns than for long documents.
	words := 0
	if havePrev {
		words = 1
		for j := 1; j < len(text); j++ {
			if !isFeatureByte(text[j-1]) && isFeatureByte(text[j]) {
				words++
			}
		}
	}
	bucket := uint32(0)
	for lim := 4; words > lim && bucket < 6; lim *= 3 {
		bucket++
	}
	f(max(len(text)-1, 0), mix(0x4c454e00+bucket, 0x27d4eb2f)&mask)
	return n + 1
}

func isFeatureByte(c byte) bool { return isAlnum(c) || c >= 0x80 || c == '\'' }

func push(w [4]byte, n int, c byte) ([4]byte, int) {
	w[0], w[1], w[2], w[3] = w[1], w[2], w[3], c
	return w, n + 1
}

func hash4(w [4]byte) uint32 {
	return mix(binary.LittleEndian.Uint32(w[:]), 0xc2b2ae35)
}

func mix(h, salt uint32) uint32 {
	h ^= salt
	h ^= h >> 16
	h *= 0x7feb352d
	h ^= h >> 15
	h *= 0x846ca68b
	h ^= h >> 16
	return h
}

// windowSize and windowStride bound the text the classifier scores at once;
// longer texts are scored in overlapping windows and the maximum is taken,
// so that an attack inside a long benign document is not diluted.
const (
	windowSize   = 2 * windowStride
	windowStride = 1024
)

// Score returns the probability per head for text. Texts longer than
// windowSize are scored per window of two consecutive windowStride-byte
// blocks (features belong to the block where they end) and the maximum per
// head is taken.
func (m *Model) Score(text string) Scores {
	w := m.interleaved()
	nb := (len(text) + windowStride - 1) / windowStride
	if nb <= 2 {
		nb = 1
	}
	var small [4][7]float32
	blocks := small[:0]
	if nb <= len(small) {
		blocks = small[:nb]
	} else {
		blocks = make([][7]float32, nb) // 6 head sums and a feature count
	}
	featuresAt(text, m.Bits, func(pos int, i uint32) {
		b := 0
		if nb > 1 {
			b = min(pos/windowStride, nb-1)
		}
		ws := w[int(i)*6 : int(i)*6+6 : int(i)*6+6]
		z := &blocks[b]
		z[0] += ws[0]
		z[1] += ws[1]
		z[2] += ws[2]
		z[3] += ws[3]
		z[4] += ws[4]
		z[5] += ws[5]
		z[6]++
	})
	if nb == 1 {
		return m.probs(blocks[0])
	}
	var best Scores
	for k := 0; k+1 < nb; k++ {
		var z [7]float32
		for j := range z {
			z[j] = blocks[k][j] + blocks[k+1][j]
		}
		s := m.probs(z)
		for h := range best {
			best[h] = max(best[h], s[h])
		}
	}
	return best
}

func (m *Model) probs(z [7]float32) Scores {
	norm := float32(1)
	if z[6] > 0 {
		norm = float32(1 / math.Sqrt(float64(z[6])))
	}
	var s Scores
	for h := range s {
		s[h] = sigmoid(float64(z[h]*norm + m.Bias[h]))
	}
	return s
}

// interleaved returns the weights laid out bucket-major (six heads per
// bucket, one cache line per feature), building them on first use.
func (m *Model) interleaved() []float32 {
	m.once.Do(func() {
		n := 1 << m.Bits
		w := make([]float32, n*6)
		for h := 0; h < 6; h++ {
			for i, x := range m.Weights[h] {
				w[i*6+h] = x
			}
		}
		m.inter = w
	})
	return m.inter
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// Confidence maps a score to a confidence bucket for head h.
func (m *Model) Confidence(h int, p float64) string {
	t := m.Thresholds[h]
	switch {
	case p >= float64(t[2]):
		return ConfHigh
	case p >= float64(t[1]):
		return ConfMedium
	case p >= float64(t[0]):
		return ConfLow
	}
	return ConfNone
}

// Classify implements Classifier with the model plus the prompt-attack
// heuristics (AttackHeuristic), which raise PROMPT_ATTACK to HIGH.
func (m *Model) Classify(_ context.Context, text string) (Scores, [6]string, error) {
	s := m.Score(text)
	var conf [6]string
	for h := range s {
		conf[h] = m.Confidence(h, s[h])
	}
	pa := categoryIndex("PROMPT_ATTACK")
	if conf[pa] != ConfHigh && AttackHeuristic(text) {
		s[pa] = max(s[pa], 0.99)
		conf[pa] = ConfHigh
	}
	return s, conf, nil
}

var _ Classifier = (*Model)(nil)

// attackKeys gate the heuristic regex: it only runs when one occurs.
var attackKeys = []string{"ignore", "disregard", "forget", "jailbr", "developer mode", "dan", "system prompt",
	"pretend", "from now on", "unfiltered", "uncensored", "im_start", "[inst]", "no restrictions", "override",
	"new instructions", "bypass", "unrestricted", "without any restrictions", "stay in character", "anti-dan"}

var attackRe = regexp.MustCompile(`(?i)` + strings.Join([]string{
	`\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}\b(?:previous|prior|above|earlier|preceding|all|your|the|any|system|original)\b[^.\n]{0,30}\b(?:instructions?|prompts?|rules|directions|guidelines|directives|context|programming|restrictions)\b`,
	`\byou are (?:now|going to be|about to immerse yourself)\b[^.\n]{0,40}\b(?:dan|jailbr\w*|unfiltered|uncensored|unrestricted|evil|developer mode)\b`,
	`\b(?:do anything now|developer mode (?:enabled|output)|jailbreak(?:ed)? mode|anti-dan|stay in character)\b`,
	`\b(?:reveal|print|show|repeat|output|leak|tell me)\b[^.\n]{0,20}\b(?:your|the)\b[^.\n]{0,15}\b(?:system prompt|initial (?:prompt|instructions)|hidden (?:prompt|instructions)|secret instructions)\b`,
	`\b(?:pretend|act as if|imagine)\b[^.\n]{0,60}\b(?:no|without any?)\b[^.\n]{0,20}\b(?:restrictions|filters|rules|guidelines|limitations|ethics|morals)\b`,
	`\bfrom now on\b[^.\n]{0,60}\b(?:you (?:will|must|are)|respond|answer)\b[^.\n]{0,60}\b(?:without|no|never refuse|unfiltered|uncensored)\b`,
	`<\|im_start\|>\s*system|\[/?inst\]|<<sys>>|###\s*(?:system|instruction)s?\s*:`,
	`\bnew instructions?\s*:`,
}, "|"))

// AttackHeuristic reports whether text contains a well-known prompt-injection
// or jailbreak phrasing, or characters used to smuggle hidden instructions
// (Unicode tag characters U+E0000–U+E007F). The phrases were written from
// general knowledge of published attacks, not fitted to the evaluation data.
func AttackHeuristic(text string) bool {
	if strings.Contains(text, "\xf3\xa0\x80") || strings.Contains(text, "\xf3\xa0\x81") {
		return true // UTF-8 prefix of U+E0000..U+E007F
	}
	if !containsAttackKey(text) {
		return false
	}
	return attackRe.MatchString(text)
}

// attackKeyIndex lists attackKeys by first byte, upper and lower case.
var attackKeyIndex = func() (idx [256][]string) {
	for _, k := range attackKeys {
		idx[k[0]] = append(idx[k[0]], k)
		if c := k[0]; c >= 'a' && c <= 'z' {
			idx[c-32] = append(idx[c-32], k)
		}
	}
	return idx
}()

// containsAttackKey reports whether one of attackKeys occurs in text,
// ignoring ASCII case, in one pass over the text.
func containsAttackKey(text string) bool {
	for i := 0; i < len(text); i++ {
		for _, k := range attackKeyIndex[text[i]] {
			if len(text)-i >= len(k) && equalASCIIFold(text[i:i+len(k)], k) {
				return true
			}
		}
	}
	return false
}

// equalASCIIFold reports whether s equals the lower-case key k when s's
// ASCII letters are lower-cased.
func equalASCIIFold(s, k string) bool {
	for j := 0; j < len(k); j++ {
		c := s[j]
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		if c != k[j] {
			return false
		}
	}
	return true
}
