package kb

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// minimalPDF builds a one-page PDF whose content stream shows lines of text
// in Helvetica, with a correct cross-reference table.
func minimalPDF(lines ...string) []byte {
	var content strings.Builder
	content.WriteString("BT /F1 12 Tf 72 720 Td 14 TL\n")
	for _, l := range lines {
		fmt.Fprintf(&content, "(%s) Tj T*\n", l)
	}
	content.WriteString("ET")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", content.Len(), content.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
	}
	var b strings.Builder
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return []byte(b.String())
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
		not      []string
	}{
		{"a.txt", "\xef\xbb\xbfplain text", []string{"plain text"}, []string{"\ufeff"}},
		{"a.md", "# Title\n\nSome **bold** and [a link](http://x.y/z) and `code`.\n\n```go\nfmt.Println()\n```\n> quoted", []string{"Title", "Some bold and a link and code.", "fmt.Println()", "quoted"}, []string{"**", "http://x.y", "```", "#"}},
		{"a.html", "<html><head><title>T</title><style>p{}</style></head><body><h1>Header</h1><p>Para <b>one</b>.</p><script>var x=1</script><table><tr><td>a</td><td>b</td></tr></table></body></html>", []string{"Header", "Para one.", "a b"}, []string{"var x", "p{}", "<"}},
		{"a.csv", "name,dept\nAda,eng\n\"Lin, B\",ops\n", []string{"name: Ada; dept: eng", "name: Lin, B; dept: ops"}, nil},
	} {
		got, err := Parse(tc.name, []byte(tc.in))
		if err != nil {
			t.Errorf("Parse(%s): %v", tc.name, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("Parse(%s) = %q, missing %q", tc.name, got, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("Parse(%s) = %q, should not contain %q", tc.name, got, n)
			}
		}
	}
	got, err := Parse("r.pdf", minimalPDF("Quarterly report", "Revenue grew nine percent"))
	if err != nil || !strings.Contains(got, "Quarterly report") || !strings.Contains(got, "Revenue grew nine percent") {
		t.Errorf("Parse(pdf) = %q, %v", got, err)
	}
	if _, err := Parse("x.docx", []byte("x")); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Parse(docx): %v, want ErrUnsupported", err)
	}
	if _, err := Parse("x.pdf", []byte("%PDF-1.4 garbage")); err == nil {
		t.Error("Parse(garbage pdf) succeeded")
	}
	if _, err := Parse("big.txt", make([]byte, MaxDocumentBytes+1)); err == nil {
		t.Error("oversize document accepted")
	}
}

// FuzzParse: no document makes a parser panic or hang.
func FuzzParse(f *testing.F) {
	f.Add("a.pdf", minimalPDF("hello"))
	f.Add("a.html", []byte("<p>x<script>y</p>"))
	f.Add("a.csv", []byte("a,b\n\"c"))
	f.Add("a.md", []byte("[x](y) ![z](w) **"))
	pdfTimeout = 2 * time.Second
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		for _, ext := range []string{".pdf", ".html", ".csv", ".md", ".txt"} {
			Parse("f"+ext, data)
		}
	})
}

func TestChunkFixed(t *testing.T) {
	words := make([]string, 25)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
	}
	text := strings.Join(words, " ")
	chunks := ChunkFixed(text, FixedSizeChunkingConfiguration{MaxTokens: 10, OverlapPercentage: 20})
	// 10 tokens each, 2 repeated: starts at 0, 8, 16; the last reaches 24.
	if len(chunks) != 3 {
		t.Fatalf("%d chunks: %+v", len(chunks), chunks)
	}
	for i, want := range []string{"w0", "w8", "w16"} {
		if !strings.HasPrefix(chunks[i].Text, want+" ") {
			t.Errorf("chunk %d = %q, want it to start with %s", i, chunks[i].Text, want)
		}
		if text[chunks[i].Start:chunks[i].End] != chunks[i].Text {
			t.Errorf("chunk %d offsets do not match its text", i)
		}
	}
	if !strings.HasSuffix(chunks[2].Text, "w24") || CountTokens(chunks[0].Text) != 10 {
		t.Errorf("last chunk %q, first has %d tokens", chunks[2].Text, CountTokens(chunks[0].Text))
	}
}

func TestChunkHierarchical(t *testing.T) {
	words := make([]string, 40)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
	}
	text := strings.Join(words, " ")
	var c HierarchicalChunkingConfiguration
	c.LevelConfigurations = make([]struct {
		MaxTokens int `json:"maxTokens"`
	}, 2)
	c.LevelConfigurations[0].MaxTokens, c.LevelConfigurations[1].MaxTokens, c.OverlapTokens = 20, 5, 1
	chunks := ChunkHierarchical(text, c)
	if len(chunks) == 0 {
		t.Fatal("no chunks")
	}
	for _, ch := range chunks {
		if CountTokens(ch.Text) > 5 || !strings.Contains(ch.Parent, ch.Text) || CountTokens(ch.Parent) > 20 {
			t.Errorf("child %q (parent %q) breaks the bounds", ch.Text, ch.Parent)
		}
		if text[ch.Start:ch.End] != ch.Text {
			t.Errorf("child %q offsets wrong", ch.Text)
		}
	}
}

func TestChunkSemantic(t *testing.T) {
	text := "Cats purr. Cats sleep a lot. Stocks fell today. Markets closed lower."
	// A stand-in embedding that puts the cat sentences on one axis and the
	// market sentences on another.
	emb := func(texts []string) ([][]float32, error) {
		out := make([][]float32, len(texts))
		for i, s := range texts {
			if strings.Contains(s, "Cats") {
				out[i] = []float32{1, 0}
			} else {
				out[i] = []float32{0, 1}
			}
		}
		return out, nil
	}
	chunks, err := ChunkSemantic(text, SemanticChunkingConfiguration{MaxTokens: 100, BufferSize: 0, BreakpointPercentileThreshold: 95}, emb)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 2 || chunks[0].Text != "Cats purr. Cats sleep a lot." || chunks[1].Text != "Stocks fell today. Markets closed lower." {
		t.Errorf("semantic chunks = %+v", chunks)
	}
	if none := ChunkNone("  whole doc  "); len(none) != 1 || none[0].Text != "whole doc" {
		t.Errorf("ChunkNone = %+v", none)
	}
}

func TestChunkingBounds(t *testing.T) {
	for _, tc := range []struct {
		c  ChunkingConfiguration
		ok bool
	}{
		{ChunkingConfiguration{ChunkingStrategy: FixedSize, FixedSizeChunkingConfiguration: &FixedSizeChunkingConfiguration{300, 20}}, true},
		{ChunkingConfiguration{ChunkingStrategy: FixedSize, FixedSizeChunkingConfiguration: &FixedSizeChunkingConfiguration{0, 20}}, false},
		{ChunkingConfiguration{ChunkingStrategy: FixedSize, FixedSizeChunkingConfiguration: &FixedSizeChunkingConfiguration{9000, 20}}, false},
		{ChunkingConfiguration{ChunkingStrategy: FixedSize, FixedSizeChunkingConfiguration: &FixedSizeChunkingConfiguration{300, 100}}, false},
		{ChunkingConfiguration{ChunkingStrategy: FixedSize}, false},
		{ChunkingConfiguration{ChunkingStrategy: Semantic, SemanticChunkingConfiguration: &SemanticChunkingConfiguration{300, 2, 95}}, false},
		{ChunkingConfiguration{ChunkingStrategy: Semantic, SemanticChunkingConfiguration: &SemanticChunkingConfiguration{300, 1, 40}}, false},
		{ChunkingConfiguration{ChunkingStrategy: Semantic, SemanticChunkingConfiguration: &SemanticChunkingConfiguration{300, 1, 95}}, true},
		{ChunkingConfiguration{ChunkingStrategy: Hierarchical, HierarchicalChunkingConfiguration: &HierarchicalChunkingConfiguration{OverlapTokens: 10}}, false},
		{ChunkingConfiguration{ChunkingStrategy: NoChunking}, true},
		{ChunkingConfiguration{ChunkingStrategy: "BOGUS"}, false},
	} {
		if err := tc.c.Validate("c"); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok %v", tc.c, err, tc.ok)
		}
	}
}

func TestParseSidecar(t *testing.T) {
	md, err := ParseSidecar([]byte(`{"metadataAttributes":{"dept":"eng","year":2024,"public":true,"tags":["a","b"],
		"typed":{"value":{"type":"STRING","stringValue":"x"},"includeForEmbedding":true},"n":{"value":{"type":"NUMBER","numberValue":5}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if md["dept"] != "eng" || md["year"] != 2024.0 || md["public"] != true || md["typed"] != "x" || md["n"] != 5.0 || len(md["tags"].([]any)) != 2 {
		t.Errorf("ParseSidecar = %v", md)
	}
	for _, bad := range []string{`{}`, `not json`, `{"metadataAttributes":{"k":{"x":1}}}`, `{"metadataAttributes":{"k":[1,2]}}`, `{"metadataAttributes":{"k":null}}`} {
		if _, err := ParseSidecar([]byte(bad)); err == nil {
			t.Errorf("ParseSidecar(%s) succeeded", bad)
		}
	}
}

// PDFFixture is a one-page PDF for other tests of the package.
func PDFFixture() []byte {
	return minimalPDF("Q3 report", "Revenue grew nine percent in the third quarter")
}
