package httpx

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

var rangeCases = []struct {
	name, header string
	kept         bool
}{
	{"none", "", true},
	{"one", "bytes=0-99", true},
	{"one open", "bytes=100-", true},
	{"suffix", "bytes=-100", true},
	{"two apart", "bytes=0-9,20-29", true},
	{"eight", "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14", true},
	{"nine", "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16", false},
	{"overlap", "bytes=0-9,5-14", false},
	{"same twice", "bytes=0-1,0-1", false},
	{"backwards", "bytes=20-29,0-9", false},
	{"open among several", "bytes=0-9,20-", false},
	{"suffix among several", "bytes=0-9,-5", false},
	{"malformed", "bytes=x,y", true},
	{"other unit", "items=0-1,0-1", true},
}

// TestModestRanges: a multi-range request that could make the answer
// larger than the file is answered in full instead (the newcomer's 5000
// one-byte ranges got 14 times the request).
func TestModestRanges(t *testing.T) {
	file := bytes.Repeat([]byte("0123456789"), 1000)
	h := ModestRanges(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "f.bin", time.Time{}, bytes.NewReader(file))
	}))
	for _, tc := range rangeCases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/f.bin", nil)
			if tc.header != "" {
				r.Header.Set("Range", tc.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			full := w.Code == http.StatusOK && w.Body.Len() == len(file)
			if tc.header != "" && tc.kept == full && strings.HasPrefix(tc.header, "bytes=") && tc.name != "malformed" {
				t.Errorf("Range %q: status %d, %d bytes; kept %v", tc.header, w.Code, w.Body.Len(), tc.kept)
			}
			if w.Body.Len() > len(file)+1024 {
				t.Errorf("Range %q: %d bytes for a %d-byte file", tc.header, w.Body.Len(), len(file))
			}
		})
	}
	many := "bytes=" + strings.Repeat("0-1,", 5000) + "0-1"
	r := httptest.NewRequest("GET", "/f.bin", nil)
	r.Header.Set("Range", many)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Body.Len() != len(file) {
		t.Errorf("5001 overlapping ranges: %d, %d bytes; want the file once", w.Code, w.Body.Len())
	}
}

func FuzzModestRanges(f *testing.F) {
	for _, tc := range rangeCases {
		f.Add(tc.header)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if specs, ok := rangeSpecs(h); ok && modestRanges(specs) && len(specs) > MaxRanges {
			t.Fatalf("%q kept with more than %d ranges", h, MaxRanges)
		}
	})
}

// servedRangeValid reports what is wrong, if anything, with an answer to a
// Range request for a size-byte file (RFC 9110 §14.4, §15.3.7, §15.5.17):
// a 206 names a range inside the file, first <= last, and carries exactly
// its bytes (or is a multipart/byteranges); a 416's Content-Range, if any,
// says the size.
func servedRangeValid(w *httptest.ResponseRecorder, size int) string {
	switch w.Code {
	case http.StatusOK, http.StatusRequestedRangeNotSatisfiable:
		// Without Content-Range, ServeContent found the header malformed
		// (StatusWords says so in words); with it, it must be the size.
		if cr := w.Header().Get("Content-Range"); cr != "" && cr != "bytes */"+strconv.Itoa(size) {
			return "416 without Content-Range bytes */size: " + w.Header().Get("Content-Range")
		}
		return ""
	case http.StatusPartialContent:
		if strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/byteranges") {
			return ""
		}
		var first, last, total int
		if _, err := fmt.Sscanf(w.Header().Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &total); err != nil {
			return "206 with Content-Range " + w.Header().Get("Content-Range")
		}
		if first > last || last >= size || total != size || w.Body.Len() != last-first+1 {
			return fmt.Sprintf("206 with Content-Range %q and %d bytes", w.Header().Get("Content-Range"), w.Body.Len())
		}
		return ""
	}
	return "status " + strconv.Itoa(w.Code)
}

// TestRangeAnswersValid: every single range is answered with a valid 206,
// a 416, or the whole file. A zero-length suffix ("bytes=-0", which RFC
// 9110 §14.1.1 makes unsatisfiable) got http.ServeContent's 206 with
// Content-Range "bytes 10000-9999/10000" and no bytes.
func TestRangeAnswersValid(t *testing.T) {
	file := bytes.Repeat([]byte("0123456789"), 1000)
	h := ModestRanges(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "f.bin", time.Time{}, bytes.NewReader(file))
	}))
	for _, header := range []string{"bytes=-0", "bytes=-00", "bytes= -0", "bytes=0-0", "bytes=-1", "bytes=9999-",
		"bytes=10000-", "bytes=-10001", "bytes=0-99999", "bytes=5-2", "bytes=-0,0-1", "bytes=0-0,-0"} {
		r := httptest.NewRequest("GET", "/f.bin", nil)
		r.Header.Set("Range", header)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if bad := servedRangeValid(w, len(file)); bad != "" {
			t.Errorf("Range %q: %s", header, bad)
		}
	}
	r := httptest.NewRequest("GET", "/f.bin", nil)
	r.Header.Set("Range", "bytes=-0")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("Range bytes=-0: %d, want 416", w.Code)
	}
}

func FuzzRangeAnswersValid(f *testing.F) {
	for _, tc := range rangeCases {
		f.Add(tc.header)
	}
	f.Add("bytes=-0")
	file := bytes.Repeat([]byte("0123456789"), 100)
	h := ModestRanges(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "f.bin", time.Time{}, bytes.NewReader(file))
	}))
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/f.bin", nil)
		r.Header["Range"] = []string{header}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if bad := servedRangeValid(w, len(file)); bad != "" {
			t.Errorf("Range %q: %s", header, bad)
		}
	})
}
