package torrentfile

import (
	"strings"
	"unicode"
)

// maxSlugLen bounds the title part of FileName, in bytes.
const maxSlugLen = 80

// FileName returns the torrent's info.name for a video titled title whose
// container extension is ext ("mp4" or ".mp4"). It is deterministic and
// safe on every file system: lower-case ASCII letters and digits joined by
// single hyphens (Latin accents folded, "Élan vital!" → "elan-vital"), at
// most 80 bytes, "video" when nothing is left; then "." and ext reduced to
// at most 8 lower-case letters and digits (no extension when that is empty).
// The browser and the pod both call it, so both compute the same info hash.
func FileName(title, ext string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(title) {
		folded, ok := fold[r]
		switch {
		case ok:
		case r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			folded = string(r)
		case unicode.Is(unicode.Mn, r): // a lone combining mark (decomposed input): drop it
			continue
		default:
			hyphen = b.Len() > 0
			continue
		}
		if hyphen {
			b.WriteByte('-')
			hyphen = false
		}
		b.WriteString(folded)
	}
	slug := b.String()
	if len(slug) > maxSlugLen { // ASCII by now, so any cut is a rune boundary
		slug = strings.TrimRight(slug[:maxSlugLen], "-")
	}
	if slug == "" {
		slug = "video"
	}
	var e strings.Builder
	for _, r := range strings.ToLower(strings.TrimPrefix(ext, ".")) {
		if e.Len() == 8 {
			break
		}
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			e.WriteRune(r)
		}
	}
	if e.Len() == 0 {
		return slug
	}
	return slug + "." + e.String()
}

// fold maps lower-case Latin letters with diacritics (Latin-1 Supplement and
// Latin Extended-A, which cover the European languages) to ASCII. A table
// instead of Unicode normalisation keeps golang.org/x/text out of the wasm
// binary; letters outside it act as separators.
var fold = func() map[rune]string {
	m := map[rune]string{'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'ð': "d", 'þ': "th", 'đ': "d", 'ħ': "h", 'ı': "i", 'ĳ': "ij", 'ĸ': "k", 'ŀ': "l", 'ł': "l", 'ŉ': "n", 'ŋ': "n", 'ŧ': "t", 'ſ': "s"}
	groups := map[string]string{
		"a": "àáâãäåāăą", "c": "çćĉċč", "d": "ď", "e": "èéêëēĕėęě", "g": "ĝğġģ",
		"h": "ĥ", "i": "ìíîïĩīĭįİ", "j": "ĵ", "k": "ķ", "l": "ĺļľ", "n": "ñńņň",
		"o": "òóôõöōŏő", "r": "ŕŗř", "s": "śŝşš", "t": "ţť", "u": "ùúûüũūŭůűų",
		"w": "ŵ", "y": "ýÿŷ", "z": "źżž",
	}
	for ascii, letters := range groups {
		for _, r := range letters {
			m[r] = ascii
		}
	}
	return m
}()
