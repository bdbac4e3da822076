package torrentfile

import (
	"strings"
	"unicode"

	"github.com/swarmtube/swarmtube/shared/textfold"
)

// maxSlugLen bounds the title part of FileName, in bytes.
const maxSlugLen = 80

// FileName returns the torrent's info.name for a video titled title whose
// container extension is ext ("mp4" or ".mp4"). It is deterministic and
// safe on every file system: lower-case ASCII letters and digits joined by
// single hyphens, after textfold.Fold (the search folding: accents dropped,
// "Élan vital!" → "elan-vital", "Straße" → "strasse"; other scripts act as
// separators), at
// most 80 bytes, "video" when nothing is left; then "." and ext reduced to
// at most 8 lower-case letters and digits (no extension when that is empty).
// The browser and the pod both call it, so both compute the same info hash.
func FileName(title, ext string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range textfold.Fold(title) {
		if r >= 0x80 || !(unicode.IsLetter(r) || unicode.IsDigit(r)) {
			hyphen = b.Len() > 0
			continue
		}
		if hyphen {
			b.WriteByte('-')
			hyphen = false
		}
		b.WriteRune(r)
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
