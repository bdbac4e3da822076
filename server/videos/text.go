package videos

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/shared/textfold"
)

// Limits on the text of a video.
const (
	MaxNameRunes        = api.MaxVideoNameRunes
	MaxDescriptionRunes = api.MaxVideoDescriptionRunes
	maxOwnerRunes       = 64
)

// cleanName validates a video name: valid UTF-8, 1 to MaxNameRunes
// characters once surrounding spaces are trimmed, no control or
// bidirectional-override characters. Markup is kept as text; pages escape it.
func cleanName(s string) (string, error) {
	s = strings.TrimSpace(s)
	n, err := checkText(s, false)
	switch {
	case err != nil:
		return "", refuse(ErrBadName, "the name %s", err)
	case n == 0:
		return "", refuse(ErrBadName, "the name must not be empty")
	case n > MaxNameRunes:
		return "", refuse(ErrBadName, "the name has %d characters; at most %d are allowed", n, MaxNameRunes)
	}
	return s, nil
}

// cleanDescription validates a description: valid UTF-8, at most
// MaxDescriptionRunes characters, line breaks and tabs allowed (CRLF becomes
// LF), no other control characters.
func cleanDescription(s string) (string, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	n, err := checkText(s, true)
	switch {
	case err != nil:
		return "", refuse(ErrBadDescription, "the description %s", err)
	case n > MaxDescriptionRunes:
		return "", refuse(ErrBadDescription, "the description has %d characters; at most %d are allowed", n, MaxDescriptionRunes)
	}
	return s, nil
}

// checkText counts the characters of s and describes the first reason it
// is not acceptable text.
func checkText(s string, multiline bool) (int, error) {
	if !utf8.ValidString(s) {
		return 0, textError("is not valid UTF-8")
	}
	n := 0
	for _, r := range s {
		n++
		switch {
		case multiline && (r == '\n' || r == '\t'):
		case unicode.IsControl(r):
			return 0, textError("contains a control character")
		case isBidiControl(r) || r == '\uFEFF' || r == '\uFFFD' || (r >= 0xFFF9 && r <= 0xFFFB):
			// Direction overrides let a name display as something else.
			return 0, textError("contains an invisible formatting character")
		case r == '\u2028' || r == '\u2029':
			return 0, textError("contains a line or paragraph separator")
		}
	}
	return n, nil
}

func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

type textError string

func (e textError) Error() string { return string(e) }

// Search terms.
const (
	maxTermBytes   = 40   // longer words are cut: nobody types more to find a video
	maxQueryTerms  = 8    // further terms are ignored
	maxQueryBytes  = 1000 // longer q parameters are refused
	maxVideoTokens = 2000 // distinct words indexed per video
	minPrefixRunes = 2    // shorter terms match whole words only
)

// words splits text into its distinct search words, in order of first
// appearance: runs of letters, digits and spacing marks after folding
// (textfold.Fold, the one folding of the index, the queries and the file
// names, so "Straße" is found by "strasse" and "Łódź" by "lodz"), each cut to
// maxTermBytes at a character boundary, at most limit of them.
func words(text string, limit int) []string {
	f := textfold.Fold(text)
	seen := make(map[string]struct{})
	var out []string
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		w := f[start:end]
		start = -1
		if len(w) > maxTermBytes {
			cut := maxTermBytes
			for cut > 0 && !utf8.RuneStart(w[cut]) {
				cut--
			}
			w = w[:cut]
		}
		if _, dup := seen[w]; dup || len(out) >= limit {
			return
		}
		seen[w] = struct{}{}
		out = append(out, w)
	}
	for i, r := range f {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mc, r) {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
	}
	flush(len(f))
	return out
}
