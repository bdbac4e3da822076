package videos

import (
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"

	tushandler "github.com/tus/tusd/v2/pkg/handler"

	"github.com/swarmtube/swarmtube/server/httpx"
)

// TestParseUploadMetadata: the tus 1.0.0 grammar of Upload-Metadata, and a
// plain reason for each way out of it; tusd's parser skipped these pairs
// silently (issue 17).
func TestParseUploadMetadata(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		header []string
		want   map[string]string
		why    string // in the message when refused
	}{
		{"absent", nil, map[string]string{}, ""},
		{"blank", []string{"  "}, map[string]string{}, ""},
		{"pairs", []string{tusMeta("name", "Élan", "description", "")}, map[string]string{"name": "Élan", "description": ""}, ""},
		{"key alone", []string{"is_confidential, name eA=="}, map[string]string{"is_confidential": "", "name": "x"}, ""},
		{"spaces around pairs", []string{" name eA== ,  filename YS5tcDQ= "}, map[string]string{"name": "x", "filename": "a.mp4"}, ""},
		{"not base64", []string{"name Élan"}, nil, `the value of "name" is not base64`},
		{"unpadded", []string{"name eA"}, nil, `the value of "name" is not base64`},
		{"url alphabet", []string{"name _-8="}, nil, "not base64"},
		{"two spaces", []string{"name  eA=="}, nil, `pair 1 ("name") has more than one space`},
		{"three parts", []string{"name eA== eA=="}, nil, "more than one space"},
		{"empty pair", []string{"name eA==,,filename eA=="}, nil, "pair 2 is empty"},
		{"trailing comma", []string{"name eA==,"}, nil, "pair 2 is empty"},
		{"a key that looks like base64", []string{" name eA==, eA==x"}, map[string]string{"name": "x", "eA==x": ""}, ""},
		{"a tab alone", []string{"name eA==,\t"}, nil, "pair 2 is empty"},
		{"duplicate", []string{"name eA==,name eQ=="}, nil, `the key "name" is given twice`},
		{"two header lines", []string{"name eA==", "filename eA=="}, nil, "send Upload-Metadata once"},
		{"long key shown short", []string{strings.Repeat("k", 500) + " !"}, nil, `"` + strings.Repeat("k", maxMetaKeyShown) + `"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseUploadMetadata(tc.header)
			if tc.why == "" {
				if err != nil || !maps.Equal(got, tc.want) {
					t.Fatalf("%q: %v %v, want %v", tc.header, got, err, tc.want)
				}
				return
			}
			var he *httpx.Error
			if !errors.As(err, &he) || he.Status != http.StatusBadRequest || he.Code != "invalid_metadata" || !strings.Contains(he.Message, tc.why) {
				t.Fatalf("%q: %v, want 400 invalid_metadata saying %q", tc.header, err, tc.why)
			}
			if len(he.Message) > 300 {
				t.Fatalf("message of %d bytes", len(he.Message))
			}
		})
	}
}

// FuzzParseUploadMetadata: never a panic, and a header the pod accepts is
// read by tusd exactly as the pod read it, so nothing tusd keeps was
// skipped or read otherwise.
func FuzzParseUploadMetadata(f *testing.F) {
	f.Add(tusMeta("name", "Élan", "description", "d"))
	f.Add("name,description !!!,filename")
	f.Add(" a eA== , b")
	f.Add("a  b,,")
	f.Fuzz(func(t *testing.T, header string) {
		got, err := parseUploadMetadata([]string{header})
		if err != nil {
			var he *httpx.Error
			if !errors.As(err, &he) || he.Status != http.StatusBadRequest {
				t.Fatalf("%q: %v, want a 400", header, err)
			}
			return
		}
		if strings.TrimSpace(header) == "" {
			return
		}
		if tusd := tushandler.ParseMetadataHeader(header); !maps.Equal(got, tusd) {
			t.Fatalf("%q: pod read %v, tusd %v", header, got, tusd)
		}
	})
}
