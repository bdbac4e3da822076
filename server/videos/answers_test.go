package videos

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/server/accounts"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// TestErrorAnswers holds the API's refusals of the video routes to the
// bytes docs/API.md promises: status, and the whole JSON body, code and
// words. Each case is one path of a handler or the service to a refusal,
// so none can answer other words, or a 500, unseen.
func TestErrorAnswers(t *testing.T) {
	fast, _ := clips(t)
	limit := int64(len(fast)) + 1000
	p := quotaPod(t, withMaxSize(limit))
	status, v, code := p.upload("alice", "clip", "", fast)
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, code)
	}
	remote := remoteVideo("theirs", "", time.Now())
	if err := p.putRemote(friend, remote); err != nil {
		t.Fatal(err)
	}
	remoteKey, ok := p.svc.VideoKey(friend, remote.ID)
	if !ok {
		t.Fatal("the friend's video is not stored")
	}
	if _, err := p.acc.SetQuota(t.Context(), "bob", ptr(10), nil); err != nil {
		t.Fatal(err)
	}
	_, incomplete := p.tusCreate("alice", 100, tusMeta(metaName, "later"))
	// A request's body and its Content-Type.
	type body struct {
		data []byte
		hdr  map[string]string
	}
	form := func(fields map[string]string, file []byte) body {
		r, ct := multipartBody(t, fields, "clip.mp4", file)
		var b bytes.Buffer
		_, _ = b.ReadFrom(r)
		return body{b.Bytes(), map[string]string{"Content-Type": ct}}
	}
	jsonBody := func(s string) body { return body{[]byte(s), map[string]string{"Content-Type": "application/json"}} }
	var none body
	// A multipart upload reserves room for its whole body.
	quotaSize := int64(len(form(map[string]string{"name": "t"}, fast).data))
	const missing = "aaaaaaaaaaaaaaaa" // a well-formed id no video has
	for _, tc := range []struct {
		name, user, method, path string
		body                     body
		status                   int
		want                     string // the JSON body, without its newline
	}{
		{"bad id", "", "GET", "/api/v1/videos/abc", none, 400,
			`{"error":"invalid_id","message":"a video id is 16 letters a-z and digits 2-7 (friends' videos: 'r' and 16 more)"}`},
		{"no such video", "", "GET", "/api/v1/videos/" + missing, none, 404,
			`{"error":"video_not_found","message":"no video has this id"}`},
		{"torrent of no video", "", "GET", "/api/v1/videos/" + missing + "/torrent", none, 404,
			`{"error":"video_not_found","message":"no video has this id"}`},
		{"torrent, bad id", "", "GET", "/api/v1/videos/abc/torrent", none, 400,
			`{"error":"invalid_id","message":"a video id is 16 letters a-z and digits 2-7 (friends' videos: 'r' and 16 more)"}`},
		{"no such resolution", "", "GET", "/api/v1/videos/" + v.ID + "/torrent?resolution=100", none, 404,
			`{"error":"resolution_not_found","message":"this video has no file at 100p"}`},
		{"not the owner", "bob", "DELETE", "/api/v1/videos/" + v.ID, none, 403,
			`{"error":"forbidden","message":"only the video's owner or an admin may do this"}`},
		{"hidden from others", "bob", "PATCH", "/api/v1/videos/" + missing, jsonBody(`{"name":"x"}`), 404,
			`{"error":"video_not_found","message":"no video has this id"}`},
		{"friend's video", accounts.AdminUsername, "DELETE", "/api/v1/videos/" + remoteKey, none, 403,
			`{"error":"remote_video","message":"this video belongs to another pod; it can only be changed there"}`},
		{"name too long", "alice", "PATCH", "/api/v1/videos/" + v.ID, jsonBody(`{"name":"` + strings.Repeat("x", MaxNameRunes+1) + `"}`), 400,
			fmt.Sprintf(`{"error":"invalid_name","message":"the name has %d characters; at most %d are allowed"}`, MaxNameRunes+1, MaxNameRunes)},
		{"empty name", "alice", "PATCH", "/api/v1/videos/" + v.ID, jsonBody(`{"name":" "}`), 400,
			`{"error":"invalid_name","message":"the name must not be empty"}`},
		{"description too long", "alice", "PATCH", "/api/v1/videos/" + v.ID, jsonBody(`{"description":"` + strings.Repeat("x", MaxDescriptionRunes+1) + `"}`), 400,
			fmt.Sprintf(`{"error":"invalid_description","message":"the description has %d characters; at most %d are allowed"}`, MaxDescriptionRunes+1, MaxDescriptionRunes)},
		{"short session", "", "POST", "/api/v1/videos/" + v.ID + "/views", jsonBody(`{"session":"x"}`), 400,
			fmt.Sprintf(`{"error":"bad_session","message":"session must be 8 to %d characters"}`, maxSessionLen)},
		{"views of no video", "", "POST", "/api/v1/videos/" + missing + "/views", jsonBody(`{"session":"12345678"}`), 404,
			`{"error":"video_not_found","message":"no video has this id"}`},
		{"not a video", "alice", "POST", "/api/v1/videos", form(map[string]string{"name": "t"}, []byte("just some text, saved as clip.mp4\n")), 415,
			`{"error":"not_a_video","message":"the file is not a video this pod accepts: send a video file such as MP4 or WebM (the content is checked, not the name)"}`},
		{"empty file", "alice", "POST", "/api/v1/videos", form(map[string]string{"name": "t"}, []byte{}), 400,
			`{"error":"empty_file","message":"the file is empty"}`},
		{"no file", "alice", "POST", "/api/v1/videos", form(map[string]string{"name": "t"}, nil), 400,
			`{"error":"missing_file","message":"send the video in a multipart form field named \"file\""}`},
		{"too large", "alice", "POST", "/api/v1/videos", form(map[string]string{"name": "t"}, append(append([]byte(nil), fast...), make([]byte, 2000)...)), 413,
			fmt.Sprintf(`{"error":"too_large","message":"the video is larger than this pod accepts (%s)"}`, httpx.SizeText(limit))},
		{"undecodable", "alice", "POST", "/api/v1/videos", form(map[string]string{"name": "t"}, fast[:64]), 415,
			`{"error":"invalid_video","message":"the file looks like a video but cannot be decoded: it may be truncated or damaged"}`},
		{"same bytes, same name", "alice", "POST", "/api/v1/videos", form(map[string]string{"name": "clip"}, fast), 409,
			fmt.Sprintf(`{"error":"duplicate_video","message":"this exact video, under the same name, is already published on this pod: %s/videos/%s"}`, p.svc.cfg.PodURL, v.ID)},
		{"over quota", "bob", "POST", "/api/v1/videos", form(map[string]string{"name": "t"}, fast), 413,
			fmt.Sprintf(`{"error":"quota_exceeded","message":"this video (%s) does not fit in your quota of %s: your videos take %s; remove videos or ask the pod's admin for more room"}`,
				httpx.SizeText(quotaSize), httpx.SizeText(10), httpx.SizeText(0))},
		{"no such upload", "alice", "POST", UploadsPath + "abcdefghijklmnopqrstuvwxyz234567/finish", none, 404,
			`{"error":"upload_not_found","message":"no upload has this id; uploads expire when abandoned"}`},
		{"upload not finished", "alice", "POST", incomplete + "/finish", none, 409,
			`{"error":"upload_incomplete","message":"the upload has not received all its bytes yet; resume it first"}`},
		{"someone else's upload", "bob", "POST", incomplete + "/finish", none, 403,
			`{"error":"forbidden","message":"this upload belongs to another user"}`},
		{"bad paging", "", "GET", "/api/v1/videos?start=-1", none, 400,
			fmt.Sprintf(`{"error":"invalid_paging","message":"start must be a whole number from 0 to %d and count one from 1 to %d, each given once"}`, httpx.MaxStart, httpx.MaxCount)},
		{"no query", "", "GET", "/api/v1/videos/search", none, 400,
			fmt.Sprintf(`{"error":"invalid_query","message":"send the search text as q (at most %d bytes)"}`, maxQueryBytes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := p.do(tc.user, tc.method, tc.path, bytes.NewReader(tc.body.data), tc.body.hdr)
			if resp.StatusCode != tc.status || string(b) != tc.want+"\n" {
				t.Errorf("%s %s: %d %s\nwant %d %s", tc.method, tc.path, resp.StatusCode, b, tc.status, tc.want)
			}
		})
	}

	// The resumable upload's creation answers through tusd.
	for _, tc := range []struct {
		name, user string
		length     int
		status     int
		want       string
	}{
		{"tus over quota", "bob", 100, 413,
			fmt.Sprintf(`{"error":"quota_exceeded","message":"this video (%s) does not fit in your quota of %s: your videos take %s; remove videos or ask the pod's admin for more room"}`,
				httpx.SizeText(100), httpx.SizeText(10), httpx.SizeText(0))},
		{"tus empty", "alice", 0, 400, `{"error":"empty_file","message":"the file is empty"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := p.do(tc.user, "POST", UploadsPath, nil, map[string]string{
				"Tus-Resumable": "1.0.0", "Upload-Length": fmt.Sprint(tc.length), "Upload-Metadata": tusMeta(metaName, "t"),
			})
			if resp.StatusCode != tc.status || string(b) != tc.want+"\n" {
				t.Errorf("%d %s\nwant %d %s", resp.StatusCode, b, tc.status, tc.want)
			}
		})
	}
	t.Run("too many uploads", func(t *testing.T) {
		for range p.svc.cfg.MaxOpenUploads - 1 {
			if resp, _ := p.tusCreate("alice", 100, tusMeta(metaName, "later")); resp.StatusCode != http.StatusCreated {
				t.Fatalf("create: %d", resp.StatusCode)
			}
		}
		resp, b := p.do("alice", "POST", UploadsPath, nil, map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "100"})
		want := fmt.Sprintf(`{"error":"too_many_uploads","message":"you have %d unfinished uploads, the most this pod allows; finish or cancel one first (unfinished uploads are removed after %s without progress)"}`,
			p.svc.cfg.MaxOpenUploads, p.svc.cfg.UploadExpiry)
		if resp.StatusCode != http.StatusForbidden || string(b) != want+"\n" {
			t.Errorf("%d %s\nwant 403 %s", resp.StatusCode, b, want)
		}
	})
	// Without ffprobe, a file cut short is found by the pod's own parser.
	t.Run("damaged", func(t *testing.T) {
		bare := newPod(t, withoutFFmpeg())
		body, ct := multipartBody(t, map[string]string{"name": "t"}, "clip.mp4", fast[:64])
		resp, b := bare.do("alice", "POST", "/api/v1/videos", body, map[string]string{"Content-Type": ct})
		const want = `{"error":"invalid_video","message":"the file looks like a video but is damaged or cut short; export or download it again and retry"}`
		if resp.StatusCode != http.StatusUnsupportedMediaType || string(b) != want+"\n" {
			t.Errorf("%d %s\nwant 415 %s", resp.StatusCode, b, want)
		}
	})
}
