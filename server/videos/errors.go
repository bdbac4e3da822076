package videos

import (
	"fmt"
	"net/http"

	"github.com/swarmtube/swarmtube/server/httpx"
)

// Errors answered to clients; all are *httpx.Error.
var (
	// ErrNotFound: no video has this id.
	ErrNotFound = &httpx.Error{Status: http.StatusNotFound, Code: "video_not_found", Message: "no video has this id"}
	// ErrBadID: the id in the path is not a video id at all.
	ErrBadID = &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_id", Message: "a video id is 16 letters a-z and digits 2-7 (friends' videos: 'r' and 16 more)"}
	// ErrNotVideo: the upload is not in a container this pod accepts.
	// Its message names what every pod takes; one with ffmpeg also takes
	// QuickTime, Matroska, AVI and ASF files, converted.
	ErrNotVideo = &httpx.Error{Status: http.StatusUnsupportedMediaType, Code: "not_a_video",
		Message: "the file is not a video this pod accepts: send a video file such as MP4 or WebM (the content is checked, not the name)"}
	// ErrUndecodable: ffprobe cannot read the upload (truncated, damaged).
	ErrUndecodable = &httpx.Error{Status: http.StatusUnsupportedMediaType, Code: "invalid_video",
		Message: "the file looks like a video but cannot be decoded: it may be truncated or damaged"}
	// ErrEmptyFile: the upload has no bytes.
	ErrEmptyFile = &httpx.Error{Status: http.StatusBadRequest, Code: "empty_file", Message: "the file is empty"}
	// ErrMissingFile: a multipart upload without a "file" part.
	ErrMissingFile = &httpx.Error{Status: http.StatusBadRequest, Code: "missing_file", Message: `send the video in a multipart form field named "file"`}
	// ErrNotOwner: only the owner or an admin may change a video.
	ErrNotOwner = &httpx.Error{Status: http.StatusForbidden, Code: "forbidden", Message: "only the video's owner or an admin may do this"}
	// ErrRemote: a friend's video can only be changed on its own pod.
	ErrRemote = &httpx.Error{Status: http.StatusForbidden, Code: "remote_video", Message: "this video belongs to another pod; it can only be changed there"}
	// ErrUploadNotFound: no resumable upload has this id (or it expired).
	ErrUploadNotFound = &httpx.Error{Status: http.StatusNotFound, Code: "upload_not_found", Message: "no upload has this id; uploads expire when abandoned"}
	// ErrUploadIncomplete: finish was called before every byte arrived.
	ErrUploadIncomplete = &httpx.Error{Status: http.StatusConflict, Code: "upload_incomplete", Message: "the upload has not received all its bytes yet; resume it first"}
	// ErrUploadBusy: another request is finishing the same upload.
	ErrUploadBusy = &httpx.Error{Status: http.StatusConflict, Code: "upload_busy", Message: "this upload is already being finished"}
	// ErrBadPaging: start or count out of range.
	ErrBadPaging = &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_paging", Message: fmt.Sprintf("start must be a whole number from 0 to %d and count one from 1 to %d, each given once", maxStart, maxCount)}
	// ErrBadQuery: the search query is missing or too long.
	ErrBadQuery = &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_query", Message: fmt.Sprintf("send the search text as q (at most %d bytes)", maxQueryBytes)}
)

// errTooLarge builds the 413 answered for files above the limit.
func errTooLarge(limit int64) error {
	return httpx.Errorf(http.StatusRequestEntityTooLarge, "too_large", "the video is larger than this pod accepts (%s)", httpx.SizeText(limit))
}

// errInvalidVideo wraps a structural problem found in a file that looked
// like a video. The parser's words (box names, offsets, sizes) are the
// cause: logged for the host, never shown.
func errInvalidVideo(err error) error {
	return (&httpx.Error{Status: http.StatusUnsupportedMediaType, Code: "invalid_video",
		Message: "the file looks like a video but is damaged or cut short; export or download it again and retry"}).Because(err)
}

// errDuplicate is answered when the same bytes were already published under the same name.
func errDuplicate(podURL, id string) error {
	return httpx.Errorf(http.StatusConflict, "duplicate_video", "this exact video, under the same name, is already published on this pod: %s/videos/%s", podURL, id)
}
