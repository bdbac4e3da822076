package httpx

import (
	"fmt"
	"strings"
)

// SizeText writes n bytes in binary units ("512 B", "1.5 KiB", "5 MiB"),
// as the pages' formatBytes (web/static/js/ui.js) does: one unit for the
// API's messages and every page, server-rendered or scripted.
func SizeText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + []string{"KiB", "MiB", "GiB", "TiB", "PiB"}[i]
}
