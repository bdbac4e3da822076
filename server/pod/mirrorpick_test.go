package pod

import "testing"

// TestMirrorPickAnswers: an admin's pick of a video to mirror answers the
// catalogue's refusals as the video routes do (videos.HTTPError), and the
// mirrors' own in their words; none is a 500.
func TestMirrorPickAnswers(t *testing.T) {
	p := startInProcess(t, "--mirror-max-gb", "1")
	base := p.URL()
	tok := loginHTTP(t, base, "admin", "admin-password")
	v := uploadVideo(t, nil, base, tok, "clip", smallClip(t))
	for _, tc := range []struct {
		name, id string
		status   int
		want     string
	}{
		{"no such video", "aaaaaaaaaaaaaaaa", 404, `{"error":"video_not_found","message":"no video has this id"}`},
		{"not a video id", "abc", 400, `{"error":"invalid_id","message":"a video id is 16 letters a-z and digits 2-7 (friends' videos: 'r' and 16 more)"}`},
		{"this pod's own", v.ID, 400, `{"error":"not_remote","message":"this pod is the video's origin; only friends' videos are mirrored"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, b := call(t, base, tok, "PUT", "/api/v1/mirrors/"+tc.id, ""); status != tc.status || string(b) != tc.want+"\n" {
				t.Errorf("PUT %s: %d %s\nwant %d %s", tc.id, status, b, tc.status, tc.want)
			}
		})
	}
}
