package videos

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/swarmtube/swarmtube/server/httpx"
)

// TestHTTPError: every refusal of the service gets its status, code and
// words at the HTTP layer, the refusal's own words where it says them,
// through any wrapping; other errors are left as they are.
func TestHTTPError(t *testing.T) {
	cause := errors.New("moov box cut at offset 4242")
	cases := []struct {
		name    string
		err     error
		status  int
		code    string
		message string
	}{
		{"not found", ErrNotFound, 404, "video_not_found", "no video has this id"},
		{"bad id", ErrBadID, 400, "invalid_id", "a video id is 16 letters a-z and digits 2-7 (friends' videos: 'r' and 16 more)"},
		{"not a video", ErrNotVideo, 415, "not_a_video", "the file is not a video this pod accepts: send a video file such as MP4 or WebM (the content is checked, not the name)"},
		{"undecodable", ErrUndecodable, 415, "invalid_video", "the file looks like a video but cannot be decoded: it may be truncated or damaged"},
		{"damaged", errInvalidVideo(cause), 415, "invalid_video", "the file looks like a video but is damaged or cut short; export or download it again and retry"},
		{"empty", ErrEmptyFile, 400, "empty_file", "the file is empty"},
		{"no file", ErrMissingFile, 400, "missing_file", `send the video in a multipart form field named "file"`},
		{"too large", errTooLarge(1 << 20), 413, "too_large", "the video is larger than this pod accepts (1 MiB)"},
		{"duplicate", errDuplicate("http://pod.test", "abcdefghijklmnop"), 409, "duplicate_video",
			"this exact video, under the same name, is already published on this pod: http://pod.test/videos/abcdefghijklmnop"},
		{"not owner", ErrNotOwner, 403, "forbidden", "only the video's owner or an admin may do this"},
		{"remote", ErrRemote, 403, "remote_video", "this video belongs to another pod; it can only be changed there"},
		{"bad name", refuse(ErrBadName, "the name must not be empty"), 400, "invalid_name", "the name must not be empty"},
		{"bad description", refuse(ErrBadDescription, "the description has 5001 characters; at most 5000 are allowed"), 400, "invalid_description",
			"the description has 5001 characters; at most 5000 are allowed"},
		{"no resolution", refuse(ErrNoResolution, "this video has no file at %dp", 100), 404, "resolution_not_found", "this video has no file at 100p"},
		{"bad session", ErrBadSession, 400, "bad_session", "session must be 8 to 64 characters"},
		{"no upload", ErrUploadNotFound, 404, "upload_not_found", "no upload has this id; uploads expire when abandoned"},
		{"not the uploader", ErrNotUploader, 403, "forbidden", "this upload belongs to another user"},
		{"incomplete", ErrUploadIncomplete, 409, "upload_incomplete", "the upload has not received all its bytes yet; resume it first"},
		{"busy", ErrUploadBusy, 409, "upload_busy", "this upload is already being finished"},
		{"too many uploads", refuse(ErrTooManyUploads, "you have 4 unfinished uploads"), 403, "too_many_uploads", "you have 4 unfinished uploads"},
		{"quota", errQuota(ErrQuota, "your quota", 3<<20, 1<<20, 0, 2<<20), 413, "quota_exceeded",
			"this video (3 MiB) does not fit in your quota of 2 MiB: your videos take 1 MiB; remove videos or ask the pod's admin for more room"},
		{"daily quota", errQuota(ErrDailyQuota, "your daily quota", 3<<20, 1<<20, 1<<20, 2<<20), 413, "daily_quota_exceeded",
			"this video (3 MiB) does not fit in your daily quota of 2 MiB: your videos take 1 MiB and your unfinished uploads 1 MiB; remove videos or ask the pod's admin for more room"},
		{"no room", ErrNoRoom, 507, "insufficient_storage", httpx.ErrInsufficientStorage.Message},
		{"wrapped", fmt.Errorf("videos: publish x: %w", errTooLarge(1<<20)), 413, "too_large", "the video is larger than this pod accepts (1 MiB)"},
		{"wrapped kind", fmt.Errorf("videos: get x: %w", ErrNotFound), 404, "video_not_found", "no video has this id"},
	}
	seen := map[refusalKind]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var he *httpx.Error
			if !errors.As(HTTPError(tc.err), &he) || he.Status != tc.status || he.Code != tc.code || he.Message != tc.message {
				t.Fatalf("HTTPError(%v) = %+v, want %d %s %q", tc.err, he, tc.status, tc.code, tc.message)
			}
			if !errors.Is(he, tc.err) || !refused(tc.err) {
				t.Fatalf("the answer to %v lost the refusal", tc.err)
			}
			var k refusalKind
			errors.As(tc.err, &k)
			seen[k] = true
		})
	}
	for k := range answers {
		if !seen[k] {
			t.Errorf("%v has an answer and no case here", k)
		}
	}
	if !errors.Is(HTTPError(errInvalidVideo(cause)), cause) {
		t.Error("the damaged file's cause is not kept for the log")
	}
	for _, err := range []error{errors.New("disk on fire"), ErrBadPaging, httpx.ErrUnauthorized} {
		if got := HTTPError(err); got != err || refused(err) {
			t.Errorf("HTTPError(%v) = %v, want it left as it is", err, got)
		}
	}
	if got := httpx.Public(HTTPError(errors.New("disk on fire"))); got.Status != http.StatusInternalServerError {
		t.Errorf("an internal error answered %d", got.Status)
	}
}

// answered4xx reports whether the API answers err with a 4xx: something
// wrong with the request or its content, not with the pod.
func answered4xx(err error) bool {
	var he *httpx.Error
	return errors.As(HTTPError(err), &he) && he.Status < 500
}
