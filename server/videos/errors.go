package videos

import (
	"errors"
	"fmt"

	"github.com/swarmtube/swarmtube/server/httpx" // SizeText: sizes in words
)

// Refusals of the service: what it will not do with the id, the file or
// the words it was given, whatever carried them. They carry no HTTP
// status: the HTTP layer answers each with its status, code and plain
// words (HTTPError in http.go). Where the words depend on the case (a
// size, a name's length), the service says them (refuse) and they replace
// the kind's. Match them with errors.Is.
var (
	// ErrNotFound: no video has this id (or, for its owner and admins
	// only, none is being processed under it).
	ErrNotFound = refusalKind("no such video")
	// ErrBadID: the id is not a video id at all.
	ErrBadID = refusalKind("not a video id")
	// ErrNotVideo: the upload is not in a container this pod accepts.
	ErrNotVideo = refusalKind("not a video this pod accepts")
	// ErrUndecodable: the upload looks like a video but cannot be read
	// (ffprobe fails, or the pod's own parser finds it damaged).
	ErrUndecodable = refusalKind("undecodable video")
	// ErrEmptyFile: the upload has no bytes.
	ErrEmptyFile = refusalKind("empty file")
	// ErrMissingFile: a multipart upload without a "file" part.
	ErrMissingFile = refusalKind("no file part")
	// ErrTooLarge: the upload is larger than Config.MaxUploadBytes.
	ErrTooLarge = refusalKind("file too large")
	// ErrDuplicate: the same bytes are published under the same name.
	ErrDuplicate = refusalKind("duplicate video")
	// ErrNotOwner: only the owner or an admin may change a video.
	ErrNotOwner = refusalKind("not the video's owner")
	// ErrRemote: a friend's video can only be changed on its own pod.
	ErrRemote = refusalKind("a friend's video")
	// ErrBadName and ErrBadDescription: the text is empty, too long or
	// holds characters not allowed (text.go).
	ErrBadName        = refusalKind("invalid name")
	ErrBadDescription = refusalKind("invalid description")
	// ErrNoResolution: the video has no file at the resolution asked for.
	ErrNoResolution = refusalKind("no file at this resolution")
	// ErrBadSession: a view's session is not 8 to 64 characters.
	ErrBadSession = refusalKind("invalid view session")
	// ErrUploadNotFound: no resumable upload has this id (or it expired).
	ErrUploadNotFound = refusalKind("no such upload")
	// ErrNotUploader: the upload belongs to another user.
	ErrNotUploader = refusalKind("another user's upload")
	// ErrUploadIncomplete: finish was called before every byte arrived.
	ErrUploadIncomplete = refusalKind("upload incomplete")
	// ErrUploadBusy: another request is finishing the same upload.
	ErrUploadBusy = refusalKind("upload being finished")
	// ErrTooManyUploads: the user has Config.MaxOpenUploads unfinished
	// resumable uploads.
	ErrTooManyUploads = refusalKind("too many unfinished uploads")
	// ErrQuota and ErrDailyQuota: the upload does not fit in the user's
	// quota, or in the daily one (Config.Quota).
	ErrQuota      = refusalKind("over quota")
	ErrDailyQuota = refusalKind("over daily quota")
	// ErrNoRoom: the upload would leave less than Config.MinFreeBytes on
	// the pod's disk.
	ErrNoRoom = refusalKind("no room on the disk")
)

// refusalKind is the type of the refusals above, so that refused tells
// them from the pod's own failures.
type refusalKind string

func (k refusalKind) Error() string { return "videos: " + string(k) }

// refused reports whether err is a refusal of the service (something
// wrong with what it was given or asked), not a failure of the pod.
func refused(err error) bool {
	var k refusalKind
	return errors.As(err, &k)
}

// refusal is a refusal in words of its own: errors.Is matches its kind,
// the HTTP layer shows its text, and its cause is logged, never shown.
type refusal struct {
	kind  refusalKind
	text  string
	cause error
}

// refuse builds a refusal of kind with the words format says.
func refuse(kind refusalKind, format string, args ...any) *refusal {
	return &refusal{kind: kind, text: fmt.Sprintf(format, args...)}
}

// because returns r with cause attached.
func (r *refusal) because(cause error) *refusal {
	c := *r
	c.cause = cause
	return &c
}

func (r *refusal) Error() string {
	if r.cause != nil {
		return r.kind.Error() + ": " + r.text + ": " + r.cause.Error()
	}
	return r.kind.Error() + ": " + r.text
}

func (r *refusal) Unwrap() []error {
	if r.cause != nil {
		return []error{r.kind, r.cause}
	}
	return []error{r.kind}
}

// errTooLarge refuses a file above limit bytes.
func errTooLarge(limit int64) error {
	return refuse(ErrTooLarge, "the video is larger than this pod accepts (%s)", httpx.SizeText(limit))
}

// errInvalidVideo wraps a structural problem found in a file that looked
// like a video. The parser's words (box names, offsets, sizes) are the
// cause: logged for the host, never shown.
func errInvalidVideo(err error) error {
	return refuse(ErrUndecodable, "the file looks like a video but is damaged or cut short; export or download it again and retry").because(err)
}

// errDuplicate refuses the same bytes under the same name as video id.
func errDuplicate(podURL, id string) error {
	return refuse(ErrDuplicate, "this exact video, under the same name, is already published on this pod: %s/videos/%s", podURL, id)
}
