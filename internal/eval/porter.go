package eval

// Stem is NLTK's PorterStemmer().stem(word) in its default NLTK_EXTENSIONS
// mode: the word is lowercased, a small pool of irregular forms is looked up,
// words of at most two characters are returned as they are, and then steps
// 1a to 5b of Porter's algorithm run with NLTK's departures (ies/ied on
// four-letter words, the y→i rule, alli, fulli, logi, bli). It is not the
// Porter2 ("snowball English") algorithm. Characters are Unicode code points,
// as in Python; non-ASCII letters count as consonants.
func Stem(word string) string {
	w := pyLower(word)
	if p, ok := porterPool[w]; ok {
		return p
	}
	rs := []rune(w)
	if len([]rune(word)) <= 2 {
		return w
	}
	rs = step1a(rs)
	rs = step1b(rs)
	rs = step1c(rs)
	rs = step2(rs)
	rs = step3(rs)
	rs = step4(rs)
	rs = step5a(rs)
	rs = step5b(rs)
	return string(rs)
}

var porterPool = map[string]string{
	"sky": "sky", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie",
	"news": "news", "innings": "inning", "inning": "inning", "outings": "outing",
	"outing": "outing", "cannings": "canning", "canning": "canning", "howe": "howe",
	"proceed": "proceed", "exceed": "exceed", "succeed": "succeed",
}

func isVowel(r rune) bool { return r == 'a' || r == 'e' || r == 'i' || r == 'o' || r == 'u' }

// consonants classifies each position: a 'y' is a consonant when it starts the
// word or follows a vowel.
func consonants(w []rune) []bool {
	f := make([]bool, len(w))
	for i, r := range w {
		switch {
		case isVowel(r):
			f[i] = false
		case r == 'y':
			f[i] = i == 0 || !f[i-1]
		default:
			f[i] = true
		}
	}
	return f
}

func isCons(w []rune, i int) bool { return consonants(w[:i+1])[i] }

// measure counts the "vc" transitions of the word's consonant/vowel pattern.
func measure(w []rune) int {
	f := consonants(w)
	n := 0
	for i := 1; i < len(f); i++ {
		if !f[i-1] && f[i] {
			n++
		}
	}
	return n
}

func containsVowel(w []rune) bool {
	for _, c := range consonants(w) {
		if !c {
			return true
		}
	}
	return false
}

func endsDoubleCons(w []rune) bool {
	n := len(w)
	return n >= 2 && w[n-1] == w[n-2] && isCons(w, n-1)
}

func endsCVC(w []rune) bool {
	n := len(w)
	if n >= 3 {
		f := consonants(w)
		last := w[n-1]
		if f[n-3] && !f[n-2] && f[n-1] && last != 'w' && last != 'x' && last != 'y' {
			return true
		}
	}
	if n == 2 {
		f := consonants(w)
		return !f[0] && f[1]
	}
	return false
}

func hasSuffix(w []rune, s string) bool {
	if len(s) > len(w) {
		return false
	}
	return string(w[len(w)-len(s):]) == s
}

func trim(w []rune, s string) []rune { return w[: len(w)-len(s) : len(w)-len(s)] }

func withSuffix(w []rune, s string) []rune {
	out := make([]rune, 0, len(w)+len(s))
	out = append(out, w...)
	return append(out, []rune(s)...)
}

// rule is one suffix rule: when the word ends with suf, the stem (word minus
// suf) gets rep if cond holds (nil: always); the first matching suffix decides.
type rule struct {
	suf, rep string
	cond     func(stem []rune) bool
}

func applyRules(w []rune, rules []rule) []rune {
	for _, r := range rules {
		if hasSuffix(w, r.suf) {
			stem := trim(w, r.suf)
			if r.cond == nil || r.cond(stem) {
				return withSuffix(stem, r.rep)
			}
			return w
		}
	}
	return w
}

func posMeasure(stem []rune) bool { return measure(stem) > 0 }
func measureGT1(stem []rune) bool { return measure(stem) > 1 }

func step1a(w []rune) []rune {
	if hasSuffix(w, "ies") && len(w) == 4 {
		return withSuffix(trim(w, "ies"), "ie")
	}
	return applyRules(w, []rule{{"sses", "ss", nil}, {"ies", "i", nil}, {"ss", "ss", nil}, {"s", "", nil}})
}

func step1b(w []rune) []rune {
	if hasSuffix(w, "ied") {
		if len(w) == 4 {
			return withSuffix(trim(w, "ied"), "ie")
		}
		return withSuffix(trim(w, "ied"), "i")
	}
	if hasSuffix(w, "eed") {
		stem := trim(w, "eed")
		if measure(stem) > 0 {
			return withSuffix(stem, "ee")
		}
		return w
	}
	var s []rune
	ok := false
	for _, suf := range []string{"ed", "ing"} {
		if hasSuffix(w, suf) {
			s = trim(w, suf)
			if containsVowel(s) {
				ok = true
				break
			}
		}
	}
	if !ok {
		return w
	}
	for _, suf := range []string{"at", "bl", "iz"} {
		if hasSuffix(s, suf) {
			return withSuffix(s, "e")
		}
	}
	if endsDoubleCons(s) {
		last := s[len(s)-1]
		if last != 'l' && last != 's' && last != 'z' {
			return s[: len(s)-1 : len(s)-1]
		}
		return s
	}
	if measure(s) == 1 && endsCVC(s) {
		return withSuffix(s, "e")
	}
	return s
}

func step1c(w []rune) []rune {
	return applyRules(w, []rule{{"y", "i", func(stem []rune) bool {
		return len(stem) > 1 && isCons(stem, len(stem)-1)
	}}})
}

func step2(w []rune) []rune {
	if hasSuffix(w, "alli") && posMeasure(trim(w, "alli")) {
		return step2(withSuffix(trim(w, "alli"), "al"))
	}
	rules := []rule{
		{"ational", "ate", posMeasure}, {"tional", "tion", posMeasure},
		{"enci", "ence", posMeasure}, {"anci", "ance", posMeasure},
		{"izer", "ize", posMeasure}, {"bli", "ble", posMeasure},
		{"alli", "al", posMeasure}, {"entli", "ent", posMeasure},
		{"eli", "e", posMeasure}, {"ousli", "ous", posMeasure},
		{"ization", "ize", posMeasure}, {"ation", "ate", posMeasure},
		{"ator", "ate", posMeasure}, {"alism", "al", posMeasure},
		{"iveness", "ive", posMeasure}, {"fulness", "ful", posMeasure},
		{"ousness", "ous", posMeasure}, {"aliti", "al", posMeasure},
		{"iviti", "ive", posMeasure}, {"biliti", "ble", posMeasure},
		{"fulli", "ful", posMeasure},
		// NLTK keeps the 'l' with the stem when measuring "logi".
		{"logi", "log", func([]rune) bool { return len(w) >= 3 && posMeasure(w[:len(w)-3]) }},
	}
	return applyRules(w, rules)
}

func step3(w []rune) []rune {
	return applyRules(w, []rule{
		{"icate", "ic", posMeasure}, {"ative", "", posMeasure}, {"alize", "al", posMeasure},
		{"iciti", "ic", posMeasure}, {"ical", "ic", posMeasure}, {"ful", "", posMeasure},
		{"ness", "", posMeasure},
	})
}

func step4(w []rune) []rune {
	return applyRules(w, []rule{
		{"al", "", measureGT1}, {"ance", "", measureGT1}, {"ence", "", measureGT1},
		{"er", "", measureGT1}, {"ic", "", measureGT1}, {"able", "", measureGT1},
		{"ible", "", measureGT1}, {"ant", "", measureGT1}, {"ement", "", measureGT1},
		{"ment", "", measureGT1}, {"ent", "", measureGT1},
		{"ion", "", func(s []rune) bool {
			return measure(s) > 1 && (s[len(s)-1] == 's' || s[len(s)-1] == 't')
		}},
		{"ou", "", measureGT1}, {"ism", "", measureGT1}, {"ate", "", measureGT1},
		{"iti", "", measureGT1}, {"ous", "", measureGT1}, {"ive", "", measureGT1},
		{"ize", "", measureGT1},
	})
}

func step5a(w []rune) []rune {
	if hasSuffix(w, "e") {
		stem := trim(w, "e")
		m := measure(stem)
		if m > 1 || (m == 1 && !endsCVC(stem)) {
			return stem
		}
	}
	return w
}

func step5b(w []rune) []rune {
	if hasSuffix(w, "ll") && measure(w[:len(w)-1]) > 1 {
		return trim(w, "l")
	}
	return w
}

// stemAll stems each word (used by METEOR's stem stage).
func stemAll(ws []string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = Stem(w)
	}
	return out
}
