package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
)

// Public is the one place where an error becomes what a user sees. Every
// handler answers through it (WriteError), and so do the places that put an
// error's text in a JSON field (UserText). It returns:
//
//   - the *Error in err's chain, as its code built it (messages are written
//     for people; the Cause is not shown);
//   - 413 too_large for a body over its http.MaxBytesReader limit;
//   - 507 insufficient_storage when the disk is full (ENOSPC) or a quota of
//     the file system is reached (EDQUOT), whatever wrapped it;
//   - 503 unavailable when the request's context ended (client gone or
//     deadline): nobody may be listening, and it is not a server bug;
//   - ErrInternal (500) for everything else: paths, dial errors, parser
//     offsets stay in the log.
//
// Public never returns nil; it returns ErrInternal for a nil err.
func Public(err error) *Error {
	var he *Error
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return ErrInternal
	case errors.As(err, &he):
		return &Error{Status: he.Status, Code: he.Code, Message: he.Message, Challenge: he.Challenge}
	case errors.As(err, &mbe):
		return Errorf(http.StatusRequestEntityTooLarge, "too_large", "the request body exceeds %s", SizeText(mbe.Limit))
	case diskFull(err):
		return ErrInsufficientStorage
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the request was stopped before it finished; try again"}
	}
	return ErrInternal
}

// diskFull reports whether err comes from a full disk or file-system quota.
func diskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// UserText is the text to show for err where an answer carries a reason
// per item (makefriends' "errors"). It keeps the words the pod's own code
// wrapped err with ("cannot read its pod info: …") and replaces what the
// system said (dial errors with their addresses, paths, TLS and DNS
// failures, JSON decoder details) by plain words; an *Error gives its
// Message. Handlers answering one error use WriteError, which is stricter:
// only an *Error's Message is ever shown there.
func UserText(err error) string {
	if err == nil {
		return ""
	}
	var b strings.Builder
	for e := err; e != nil; {
		if he, ok := e.(*Error); ok {
			b.WriteString(he.Message)
			break
		}
		if ue, ok := e.(*url.Error); ok { // "Get "<url>": …": the URL is the caller's to name
			e = ue.Err
			continue
		}
		if p := systemText(e); p != "" {
			b.WriteString(p)
			break
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			var parts []string
			for _, x := range j.Unwrap() {
				parts = append(parts, UserText(x))
			}
			b.WriteString(strings.Join(parts, "; "))
			break
		}
		inner := errors.Unwrap(e)
		if inner == nil {
			b.WriteString(withoutPackage(e.Error())) // a leaf written by the pod's code
			break
		}
		if prefix, ok := strings.CutSuffix(e.Error(), inner.Error()); ok {
			b.WriteString(prefix) // a wrapper's words ("hello: ") stay
		} else if detail, ok := strings.CutPrefix(e.Error(), inner.Error()+": "); ok && errors.Unwrap(inner) == nil {
			// fmt.Errorf("%w: detail", ErrSentinel): the detail says what
			// is wrong; the sentinel ("fedproto: invalid message") is for
			// code, which matches it with errors.Is.
			b.WriteString(withoutPackage(detail))
			break
		}
		e = inner
	}
	return b.String()
}

// goPackagePrefix is the "fedproto: " Go code puts before its errors'
// text by convention: for code and logs, not for a person.
var goPackagePrefix = regexp.MustCompile(`^[a-z][a-z0-9]*: `)

// withoutPackage drops a leading Go package name from a leaf error the
// pod's code wrote, a sentinel made for errors.Is ("fedproto: request is
// not signed" → "request is not signed"). A wrapper's one-word prefix is
// kept: there it names the step that failed ("hello: it did not answer").
func withoutPackage(text string) string {
	return goPackagePrefix.ReplaceAllString(text, "")
}

// systemText is the plain-words form of e when e itself (not what it
// wraps: the pod's own wrappers around it keep their words) is an error
// made by the system or the standard library, or "" otherwise.
func systemText(e error) string {
	switch v := e.(type) {
	case *net.DNSError:
		return "its host name could not be resolved"
	case *net.OpError:
		switch {
		case v.Timeout():
			return "it did not answer in time"
		case errors.Is(v, syscall.ECONNREFUSED):
			return "it refused the connection (nothing listens there)"
		case v.Op == "dial":
			return "it could not be reached"
		}
		return "the connection to it failed"
	case *tls.CertificateVerificationError, x509.UnknownAuthorityError, x509.HostnameError, x509.CertificateInvalidError:
		return "its TLS certificate is not valid for its address"
	case *json.SyntaxError, *json.UnmarshalTypeError:
		return "its answer is not the JSON this pod expects"
	case *os.PathError, *os.LinkError, *os.SyscallError, syscall.Errno:
		if diskFull(e) {
			return ErrInsufficientStorage.Message
		}
		if errors.Is(e, syscall.ECONNREFUSED) {
			return "it refused the connection (nothing listens there)"
		}
		if errors.Is(e, syscall.ECONNRESET) || errors.Is(e, syscall.EPIPE) {
			return "the connection to it failed"
		}
		return "a file operation on this pod failed; it has been logged"
	}
	switch {
	case e == context.DeadlineExceeded, e == os.ErrDeadlineExceeded:
		return "it did not answer in time"
	case e == context.Canceled:
		return "the request was stopped before it finished"
	case e == io.EOF, e == io.ErrUnexpectedEOF:
		return "the connection closed before the answer was complete"
	}
	if ne, ok := e.(net.Error); ok && ne.Timeout() {
		return "it did not answer in time"
	}
	return ""
}
