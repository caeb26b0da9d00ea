package kb_test

import "github.com/outcrop/outcrop/internal/kb"

func pdfFixture() []byte { return kb.PDFFixture() }
