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
// most 80 bytes, "video" when nothing is left, "-video" added to a name
// Windows keeps for a device whatever its extension (con, prn, aux, nul,
// com0-9, lpt0-9: a client there could not save "con.mp4"); then "." and
// ext reduced to at most 8 lower-case letters and digits (no extension
// when that is empty).
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
	if windowsDevice(slug) {
		slug += "-video" // "con.mp4" names a device on Windows, not a file
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

// windowsDevice reports whether slug is a device name Windows reserves in
// every directory and with any extension ("Naming Files, Paths, and
// Namespaces", Microsoft Learn): CON, PRN, AUX, NUL, COM0-9, LPT0-9.
func windowsDevice(slug string) bool {
	switch slug {
	case "con", "prn", "aux", "nul":
		return true
	}
	return len(slug) == 4 && (strings.HasPrefix(slug, "com") || strings.HasPrefix(slug, "lpt")) && slug[3] >= '0' && slug[3] <= '9'
}
