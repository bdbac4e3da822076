package httpx

import (
	"fmt"
	"strconv"
	"strings"
	"time"
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

// Count writes n of a countable noun, in its singular or plural: "1
// second", "2 seconds", "0 videos". plural is noun+"s" unless given.
func Count(n int64, noun string, plural ...string) string {
	if n == 1 || n == -1 {
		return strconv.FormatInt(n, 10) + " " + noun
	}
	p := noun + "s"
	if len(plural) > 0 {
		p = plural[0]
	}
	return strconv.FormatInt(n, 10) + " " + p
}

// DurationText writes d for people, rounded up to whole seconds and in at
// most two units: "1 second", "45 seconds", "1 minute 30 seconds",
// "2 hours 5 minutes", "3 days". What people read in the pod's messages
// ("try again in …") goes through it, so no message says "1 seconds" or
// "90 seconds".
func DurationText(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	if secs < 0 {
		secs = 0
	}
	units := []struct {
		size int64
		name string
	}{{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}}
	var parts []string
	for _, u := range units {
		if secs >= u.size || (u.size == 1 && len(parts) == 0) {
			parts = append(parts, Count(secs/u.size, u.name))
			secs %= u.size
			if len(parts) == 2 || secs == 0 {
				break
			}
		} else if len(parts) == 1 {
			break // "1 hour 5 seconds" says less than it seems: stop at one unit
		}
	}
	return strings.Join(parts, " ")
}
