package httpx

import (
	"bytes"
	"net/http"
	"net/http/httptest"
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
		if modestRanges(h) && strings.Count(h, ",") >= MaxRanges && strings.HasPrefix(strings.TrimSpace(h), "bytes=") {
			t.Fatalf("%q kept with more than %d ranges", h, MaxRanges)
		}
	})
}
