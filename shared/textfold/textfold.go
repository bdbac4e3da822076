// Package textfold maps text to the form in which the pod compares words:
// the search index, search queries and torrent file names all go through
// Fold, so a word typed with or without accents, in upper or lower case, as
// a ligature or in a compatibility form (full-width, superscript) finds the
// same videos and gives the same file name.
//
// Fold is Unicode compatibility decomposition (NFKD, UAX #15) with the
// combining marks removed and letters lower-cased, plus an explicit table
// for the letters that have no decomposition at all: "ł" is not "l" plus a
// mark in Unicode, nor "ø", "đ", "ß", "æ", "œ", "þ" (see the table). The
// package builds for both the pod and the browser (torrentfile.FileName
// uses it in both).
package textfold

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Version identifies the folding rules. Stores that keep folded text (the
// search index) record it and rebuild when it changes.
const Version = 2

// Fold returns s decomposed (NFKD), without combining marks (Mn, Me),
// lower-cased, with letters that do not decompose spelt in Latin letters
// ("Łódź" → "lodz", "Straße" → "strasse", "ﬁlm" → "film", "Ærø" → "aero").
// Other characters, spacing marks and punctuation included, are kept as
// they are: callers decide what separates words.
func Fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	d := norm.NFKD.String(s)
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if unicode.In(r, unicode.Mn, unicode.Me) {
			continue
		}
		r = unicode.ToLower(r)
		if t, ok := letters[r]; ok {
			b.WriteString(t)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// letters spells the lower-case letters that Unicode does not decompose
// into a base letter and marks. Upper-case forms reach it lower-cased.
// Sources: the Latin letters with stroke, bar, hook and ligatures of the
// Latin-1 Supplement, Latin Extended-A and -B blocks; "ς" is the final form
// of "σ"; "ʼ" (the apostrophe NFKD leaves from "ŉ") joins words.
var letters = map[rune]string{
	'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'ð': "d", 'þ': "th", 'đ': "d",
	'ħ': "h", 'ı': "i", 'ĸ': "k", 'ł': "l", 'ŋ': "n", 'ŧ': "t", 'ƀ': "b",
	'ƈ': "c", 'ɖ': "d", 'ɗ': "d", 'ƒ': "f", 'ǥ': "g", 'ɨ': "i", 'ƙ': "k",
	'ƚ': "l", 'ƞ': "n", 'ɵ': "o", 'ƥ': "p", 'ƫ': "t", 'ƭ': "t", 'ʈ': "t",
	'ƴ': "y", 'ƶ': "z", 'ȥ': "z", 'ȼ': "c", 'ȿ': "s", 'ɇ': "e", 'ɉ': "j",
	'ɍ': "r", 'ɏ': "y", 'ꝉ': "l", 'ꞩ': "s", 'ʼ': "", 'ς': "σ",
}
