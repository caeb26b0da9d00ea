package kb

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
	"golang.org/x/net/html"
)

// MaxDocumentBytes is the largest file ingestion reads (Bedrock's limit for
// a source document is 50 MB).
const MaxDocumentBytes = 50 << 20

// ErrUnsupported is returned for a file type no parser reads.
var ErrUnsupported = errors.New("kb: unsupported file type")

// Parse extracts the text of a document from its bytes, choosing the parser
// by the file name's extension: .txt, .md/.markdown, .html/.htm, .csv, .pdf.
func Parse(name string, data []byte) (string, error) {
	if len(data) > MaxDocumentBytes {
		return "", fmt.Errorf("kb: %s is %d bytes, over the %d-byte limit", name, len(data), MaxDocumentBytes)
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".txt", ".text":
		return text(data), nil
	case ".md", ".markdown":
		return markdown(text(data)), nil
	case ".html", ".htm":
		return htmlText(data)
	case ".csv":
		return csvText(data)
	case ".pdf":
		return pdfWithDeadline(data, pdfTimeout)
	}
	return "", fmt.Errorf("%w: %s", ErrUnsupported, filepath.Ext(name))
}

// Supported reports whether Parse reads files named like name.
func Supported(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".txt", ".text", ".md", ".markdown", ".html", ".htm", ".csv", ".pdf":
		return true
	}
	return false
}

// text returns data as valid UTF-8 without a byte-order mark.
func text(data []byte) string {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if utf8.Valid(data) {
		return string(data)
	}
	return strings.ToValidUTF8(string(data), "\uFFFD")
}

var (
	mdFence  = regexp.MustCompile("(?m)^\\s*(```|~~~).*$")
	mdHeader = regexp.MustCompile(`(?m)^\s{0,3}#{1,6}\s+`)
	mdImage  = regexp.MustCompile(`!\[([^\]]*)\]\([^)]*\)`)
	mdLink   = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	mdEmph   = regexp.MustCompile(`(\*\*|__|\*|_|~~|` + "`" + `)`)
	mdQuote  = regexp.MustCompile(`(?m)^\s{0,3}>\s?`)
	mdRule   = regexp.MustCompile(`(?m)^\s{0,3}([-*_]\s*){3,}$`)
)

// markdown keeps the words of a Markdown document and drops its syntax:
// heading marks, emphasis, code fences, link and image targets, quotes and
// rules. Headings and paragraphs stay on their own lines.
func markdown(s string) string {
	s = mdFence.ReplaceAllString(s, "")
	s = mdHeader.ReplaceAllString(s, "")
	s = mdImage.ReplaceAllString(s, "$1")
	s = mdLink.ReplaceAllString(s, "$1")
	s = mdRule.ReplaceAllString(s, "")
	s = mdQuote.ReplaceAllString(s, "")
	s = mdEmph.ReplaceAllString(s, "")
	return strings.TrimSpace(s)
}

// htmlText returns the visible text of an HTML document: script, style,
// template and head contents are dropped; block elements end lines.
func htmlText(data []byte) (string, error) {
	z := html.NewTokenizer(bytes.NewReader(data))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			if errors.Is(z.Err(), io.EOF) {
				return collapse(b.String()), nil
			}
			return "", fmt.Errorf("kb: html: %w", z.Err())
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "template", "noscript", "head":
				skip++
			case "br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table", "ul", "ol", "pre", "blockquote":
				b.WriteByte('\n')
			case "td", "th":
				b.WriteByte(' ')
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "template", "noscript", "head":
				if skip > 0 {
					skip--
				}
			case "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "table", "pre", "blockquote":
				b.WriteByte('\n')
			}
		}
	}
}

// collapse trims every line, squeezes runs of spaces and drops empty lines
// beyond one.
func collapse(s string) string {
	var out []string
	blank := false
	for _, line := range strings.Split(s, "\n") {
		line = strings.Join(strings.Fields(line), " ")
		if line == "" {
			if !blank && len(out) > 0 {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, line)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// csvText renders each row after the header as "column: value; …" lines,
// so that a chunk of rows keeps the column names it needs to be understood.
func csvText(data []byte) (string, error) {
	r := csv.NewReader(bytes.NewReader([]byte(text(data))))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	rows, err := r.ReadAll()
	if err != nil {
		return "", fmt.Errorf("kb: csv: %w", err)
	}
	if len(rows) == 0 {
		return "", nil
	}
	header := rows[0]
	var b strings.Builder
	for _, row := range rows[1:] {
		for i, v := range row {
			if i > 0 {
				b.WriteString("; ")
			}
			col := fmt.Sprintf("column %d", i+1)
			if i < len(header) && header[i] != "" {
				col = header[i]
			}
			b.WriteString(col + ": " + v)
		}
		b.WriteByte('\n')
	}
	if len(rows) == 1 {
		return strings.Join(header, ", "), nil
	}
	return strings.TrimSpace(b.String()), nil
}

// pdfTimeout bounds PDF text extraction. The PDF library loops forever on
// some malformed files (found by FuzzParse); extraction then runs on in a
// goroutine of its own, which is abandoned, and the document fails.
var pdfTimeout = 30 * time.Second

// pdfWithDeadline runs pdfText, giving up after d.
func pdfWithDeadline(data []byte, d time.Duration) (string, error) {
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := pdfText(data)
		ch <- result{s, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-t.C:
		return "", fmt.Errorf("kb: pdf: text extraction did not finish in %v (malformed file)", d)
	}
}

// pdfText extracts the text of every page with github.com/ledongthuc/pdf,
// one page after another. A malformed file is an error, never a panic.
func pdfText(data []byte) (s string, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = "", fmt.Errorf("kb: pdf: malformed file (%v)", r)
		}
	}()
	rd, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("kb: pdf: %w", err)
	}
	var b strings.Builder
	for i := 1; i <= rd.NumPage(); i++ {
		p := rd.Page(i)
		if p.V.IsNull() {
			continue
		}
		rows, err := p.GetTextByRow()
		if err != nil {
			return "", fmt.Errorf("kb: pdf page %d: %w", i, err)
		}
		for _, row := range rows {
			var line []string
			for _, w := range row.Content {
				line = append(line, w.S)
			}
			b.WriteString(strings.Join(line, ""))
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	return collapse(b.String()), nil
}
