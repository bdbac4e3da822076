package fedproto

import "errors"

// ErrInvalid wraps every validation failure of a received message.
var ErrInvalid = errors.New("fedproto: invalid message")

// ErrNoSignature means the request carries no Signature header.
var ErrNoSignature = errors.New("fedproto: request is not signed")

// ErrBadSignature means the Signature header is malformed, does not cover
// the required headers, uses another algorithm, or does not verify.
var ErrBadSignature = errors.New("fedproto: bad signature")

// ErrBadDigest means the Digest header is missing, malformed or does not
// match the body.
var ErrBadDigest = errors.New("fedproto: bad digest")

// ErrClockSkew means the Date header is missing, malformed, or further
// than MaxClockSkew from the receiver's clock.
var ErrClockSkew = errors.New("fedproto: date out of range")
