package kb

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// Chunking strategies (Bedrock's ChunkingStrategy).
const (
	FixedSize    = "FIXED_SIZE"
	Hierarchical = "HIERARCHICAL"
	Semantic     = "SEMANTIC"
	NoChunking   = "NONE"
)

// ChunkingConfiguration is Bedrock's chunkingConfiguration.
type ChunkingConfiguration struct {
	ChunkingStrategy                  string                             `json:"chunkingStrategy"`
	FixedSizeChunkingConfiguration    *FixedSizeChunkingConfiguration    `json:"fixedSizeChunkingConfiguration,omitempty"`
	HierarchicalChunkingConfiguration *HierarchicalChunkingConfiguration `json:"hierarchicalChunkingConfiguration,omitempty"`
	SemanticChunkingConfiguration     *SemanticChunkingConfiguration     `json:"semanticChunkingConfiguration,omitempty"`
}

// FixedSizeChunkingConfiguration: maxTokens 1..8192, overlapPercentage 1..99.
type FixedSizeChunkingConfiguration struct {
	MaxTokens         int `json:"maxTokens"`
	OverlapPercentage int `json:"overlapPercentage"`
}

// HierarchicalChunkingConfiguration: exactly two levels (parent, child),
// each maxTokens 1..8192, and overlapTokens >= 1.
type HierarchicalChunkingConfiguration struct {
	LevelConfigurations []struct {
		MaxTokens int `json:"maxTokens"`
	} `json:"levelConfigurations"`
	OverlapTokens int `json:"overlapTokens"`
}

// SemanticChunkingConfiguration: maxTokens 1..8192, bufferSize 0..1,
// breakpointPercentileThreshold 50..99.
type SemanticChunkingConfiguration struct {
	MaxTokens                     int `json:"maxTokens"`
	BufferSize                    int `json:"bufferSize"`
	BreakpointPercentileThreshold int `json:"breakpointPercentileThreshold"`
}

// Validate checks the configuration against Bedrock's bounds.
func (c *ChunkingConfiguration) Validate(path string) error {
	if c == nil {
		return nil
	}
	in := func(field string, v, lo, hi int) error {
		if v < lo || v > hi {
			return resource.Invalid(path+"."+field, "Member must have value between "+itoa(lo)+" and "+itoa(hi))
		}
		return nil
	}
	switch c.ChunkingStrategy {
	case FixedSize:
		f := c.FixedSizeChunkingConfiguration
		if f == nil {
			return resource.Invalid(path+".fixedSizeChunkingConfiguration", "Member must not be null")
		}
		if err := in("fixedSizeChunkingConfiguration.maxTokens", f.MaxTokens, 1, 8192); err != nil {
			return err
		}
		return in("fixedSizeChunkingConfiguration.overlapPercentage", f.OverlapPercentage, 1, 99)
	case Hierarchical:
		h := c.HierarchicalChunkingConfiguration
		if h == nil {
			return resource.Invalid(path+".hierarchicalChunkingConfiguration", "Member must not be null")
		}
		if len(h.LevelConfigurations) != 2 {
			return resource.Invalid(path+".hierarchicalChunkingConfiguration.levelConfigurations", "Member must have length between 2 and 2")
		}
		for _, l := range h.LevelConfigurations {
			if err := in("hierarchicalChunkingConfiguration.levelConfigurations.member.maxTokens", l.MaxTokens, 1, 8192); err != nil {
				return err
			}
		}
		if h.LevelConfigurations[1].MaxTokens > h.LevelConfigurations[0].MaxTokens {
			return resource.Invalidf("The child chunk maxTokens (%d) must not exceed the parent's (%d).", h.LevelConfigurations[1].MaxTokens, h.LevelConfigurations[0].MaxTokens)
		}
		return in("hierarchicalChunkingConfiguration.overlapTokens", h.OverlapTokens, 1, 8192)
	case Semantic:
		s := c.SemanticChunkingConfiguration
		if s == nil {
			return resource.Invalid(path+".semanticChunkingConfiguration", "Member must not be null")
		}
		if err := in("semanticChunkingConfiguration.maxTokens", s.MaxTokens, 1, 8192); err != nil {
			return err
		}
		if err := in("semanticChunkingConfiguration.bufferSize", s.BufferSize, 0, 1); err != nil {
			return err
		}
		return in("semanticChunkingConfiguration.breakpointPercentileThreshold", s.BreakpointPercentileThreshold, 50, 99)
	case NoChunking:
		return nil
	}
	return resource.Invalid(path+".chunkingStrategy", "Member must satisfy enum value set: [FIXED_SIZE, NONE, HIERARCHICAL, SEMANTIC]")
}

func itoa(n int) string { return strconv.Itoa(n) }

// Chunk is one piece of a document. Start and End are byte offsets of the
// chunk's text in the document's text; for hierarchical children, Parent
// holds the text of the parent chunk returned in its place at query time.
type Chunk struct {
	Text       string
	Start, End int
	Parent     string
}

// token is one token of the approximate tokenizer: a run of letters and
// digits, or one other non-space character, with its byte range.
type token struct{ start, end int }

// tokenize splits s into tokens for chunk sizing. Chunk sizes are counted
// in these tokens (words and punctuation marks), not in any model's
// tokenizer; for English prose the count is within about 25% of BERT's
// WordPiece and GPT tokenizers.
func tokenize(s string) []token {
	var out []token
	start := -1
	for i, r := range s {
		word := unicode.IsLetter(r) || unicode.IsDigit(r)
		switch {
		case word && start < 0:
			start = i
		case !word:
			if start >= 0 {
				out = append(out, token{start, i})
				start = -1
			}
			if !unicode.IsSpace(r) {
				out = append(out, token{i, i + len(string(r))})
			}
		}
	}
	if start >= 0 {
		out = append(out, token{start, len(s)})
	}
	return out
}

// CountTokens returns the number of chunking tokens in s.
func CountTokens(s string) int { return len(tokenize(s)) }

// windows cuts s into chunks of at most max tokens, each starting overlap
// tokens before the previous one ended.
func windows(s string, max, overlap int) []Chunk {
	toks := tokenize(s)
	if len(toks) == 0 {
		return nil
	}
	if overlap >= max {
		overlap = max - 1
	}
	var out []Chunk
	for i := 0; i < len(toks); {
		j := min(i+max, len(toks))
		a, b := toks[i].start, toks[j-1].end
		out = append(out, Chunk{Text: s[a:b], Start: a, End: b})
		if j == len(toks) {
			break
		}
		i = j - overlap
	}
	return out
}

// ChunkFixed implements FIXED_SIZE: windows of maxTokens with
// overlapPercentage of them repeated at the start of the next.
func ChunkFixed(s string, c FixedSizeChunkingConfiguration) []Chunk {
	overlap := c.MaxTokens * c.OverlapPercentage / 100
	return windows(s, c.MaxTokens, overlap)
}

// ChunkHierarchical implements HIERARCHICAL: parent windows of the first
// level's maxTokens (overlapping by overlapTokens), each cut into child
// windows of the second level's maxTokens (same overlap); every child is
// indexed and carries its parent's text, which retrieval returns.
func ChunkHierarchical(s string, c HierarchicalChunkingConfiguration) []Chunk {
	pmax, cmax := c.LevelConfigurations[0].MaxTokens, c.LevelConfigurations[1].MaxTokens
	var out []Chunk
	for _, p := range windows(s, pmax, c.OverlapTokens) {
		for _, ch := range windows(p.Text, cmax, c.OverlapTokens) {
			out = append(out, Chunk{Text: ch.Text, Start: p.Start + ch.Start, End: p.Start + ch.End, Parent: p.Text})
		}
	}
	return out
}

// ChunkNone implements NONE: the whole document is one chunk.
func ChunkNone(s string) []Chunk {
	s2 := strings.TrimSpace(s)
	if s2 == "" {
		return nil
	}
	a := strings.Index(s, s2)
	return []Chunk{{Text: s2, Start: a, End: a + len(s2)}}
}

// sentences splits s into sentences (after ., ! or ? followed by space,
// and at blank lines), with byte ranges.
func sentences(s string) []token {
	var out []token
	start := 0
	flush := func(end int) {
		t := strings.TrimSpace(s[start:end])
		if t != "" {
			a := start + strings.Index(s[start:end], t)
			out = append(out, token{a, a + len(t)})
		}
		start = end
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c == '.' || c == '!' || c == '?') && (i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\n') {
			flush(i + 1)
		} else if c == '\n' && i+1 < len(s) && s[i+1] == '\n' {
			flush(i)
		}
	}
	flush(len(s))
	return out
}

// Embed is what the semantic chunker needs from an embedding model.
type Embed func(texts []string) ([][]float32, error)

// ChunkSemantic implements SEMANTIC: the text is split into sentences; each
// sentence is embedded together with bufferSize sentences on either side;
// a breakpoint is placed after sentence i when the cosine distance between
// the embeddings of i and i+1 is at or above the breakpointPercentileThreshold
// percentile of all such distances; groups longer than maxTokens are cut
// into fixed windows.
func ChunkSemantic(s string, c SemanticChunkingConfiguration, embed Embed) ([]Chunk, error) {
	sents := sentences(s)
	if len(sents) == 0 {
		return nil, nil
	}
	texts := make([]string, len(sents))
	for i := range sents {
		lo, hi := max(0, i-c.BufferSize), min(len(sents)-1, i+c.BufferSize)
		texts[i] = s[sents[lo].start:sents[hi].end]
	}
	var breaks []bool
	if len(sents) > 1 {
		vecs, err := embed(texts)
		if err != nil {
			return nil, err
		}
		if len(vecs) != len(texts) {
			return nil, llm.Errorf(llm.KindInternal, "semantic chunking: %d embeddings for %d sentences", len(vecs), len(texts))
		}
		dist := make([]float64, len(sents)-1)
		for i := range dist {
			dist[i] = 1 - cosine(vecs[i], vecs[i+1])
		}
		sorted := append([]float64(nil), dist...)
		sort.Float64s(sorted)
		th := sorted[int(math.Ceil(float64(c.BreakpointPercentileThreshold)/100*float64(len(sorted))))-1]
		breaks = make([]bool, len(sents))
		for i, d := range dist {
			breaks[i] = d >= th
		}
	}
	var out []Chunk
	start := 0
	for i := range sents {
		if i == len(sents)-1 || breaks[i] {
			a, b := sents[start].start, sents[i].end
			for _, w := range windows(s[a:b], c.MaxTokens, 0) {
				out = append(out, Chunk{Text: w.Text, Start: a + w.Start, End: a + w.End})
			}
			start = i + 1
		}
	}
	return out, nil
}

func cosine(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return d / math.Sqrt(na*nb)
}
