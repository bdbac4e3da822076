package media

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// SniffLen is how many leading bytes Sniff needs to decide; fewer are
// accepted but may not be enough for a real file's headers.
const SniffLen = 512

// Container is a recognised video container.
type Container int

// The containers Sniff recognises. MP4, WebM and Ogg are published as
// they are when their codecs are web-playable; QuickTime, Matroska, AVI and
// ASF are recognised so that a pod with ffmpeg can transcode them.
const (
	Unknown Container = iota
	MP4
	WebM
	Ogg
	QuickTime
	Matroska
	AVI
	ASF
)

// Browser reports whether browsers play the container itself (MP4, WebM,
// Ogg); the others must be transcoded whatever their codecs.
func (c Container) Browser() bool { return c == MP4 || c == WebM || c == Ogg }

// String returns the container's name.
func (c Container) String() string {
	switch c {
	case MP4:
		return "MP4"
	case WebM:
		return "WebM"
	case Ogg:
		return "Ogg"
	case QuickTime:
		return "QuickTime"
	case Matroska:
		return "Matroska"
	case AVI:
		return "AVI"
	case ASF:
		return "ASF"
	}
	return "unknown"
}

// Ext returns the file extension used for the container, without a dot.
// The browser and the pod pass it to torrentfile.FileName, so it must never
// change for an existing container.
func (c Container) Ext() string {
	switch c {
	case MP4:
		return "mp4"
	case WebM:
		return "webm"
	case Ogg:
		return "ogv"
	case QuickTime:
		return "mov"
	case Matroska:
		return "mkv"
	case AVI:
		return "avi"
	case ASF:
		return "wmv"
	}
	return ""
}

// TypeByName returns the MIME type of a video file by its extension,
// case-insensitively, as the pod serves it (the container's ContentType):
// .mp4 and .m4v are MP4, .webm WebM, .ogv and .ogg Ogg, .mov QuickTime,
// .mkv Matroska, .avi AVI, .wmv ASF; "" for anything else. It is the one
// extension map of the project: the web seed serves by it, and the
// browser engine's copy (web/static/engine/engine.js, MIME) is checked
// against it by a test.
func TypeByName(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return ""
	}
	switch strings.ToLower(name[i+1:]) {
	case "mp4", "m4v":
		return MP4.ContentType()
	case "webm":
		return WebM.ContentType()
	case "ogv", "ogg":
		return Ogg.ContentType()
	case "mov":
		return QuickTime.ContentType()
	case "mkv":
		return Matroska.ContentType()
	case "avi":
		return AVI.ContentType()
	case "wmv":
		return ASF.ContentType()
	}
	return ""
}

// ContentType returns the MIME type served for the container.
func (c Container) ContentType() string {
	switch c {
	case MP4:
		return "video/mp4"
	case WebM:
		return "video/webm"
	case Ogg:
		return "video/ogg"
	case QuickTime:
		return "video/quicktime"
	case Matroska:
		return "video/x-matroska"
	case AVI:
		return "video/x-msvideo"
	case ASF:
		return "video/x-ms-asf"
	}
	return "application/octet-stream"
}

// Sniff identifies the container from the first bytes of a file (pass at
// least SniffLen bytes when the file has them). It returns an error wrapping
// ErrUnknownContainer for anything else.
func Sniff(head []byte) (Container, error) {
	switch {
	case len(head) == 0:
		return Unknown, fmt.Errorf("%w: the file is empty", ErrUnknownContainer)
	case isMP4(head):
		if string(head[8:12]) == "qt  " {
			return QuickTime, nil
		}
		return MP4, nil
	case isEBML(head, "webm"):
		return WebM, nil
	case isEBML(head, "matroska"):
		return Matroska, nil
	case isOgg(head):
		return Ogg, nil
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "AVI ":
		return AVI, nil
	case bytes.HasPrefix(head, asfHeader):
		return ASF, nil
	}
	return Unknown, ErrUnknownContainer
}

// imageBrands are ISO-BMFF major brands of still images and image
// sequences: same box format, but not something a <video> element plays.
var imageBrands = map[string]bool{
	"heic": true, "heix": true, "heim": true, "heis": true, "hevc": true, "hevx": true,
	"mif1": true, "msf1": true, "avif": true, "avis": true, "jpx ": true, "jpm ": true,
	"crx ": true,
}

func isMP4(b []byte) bool {
	if len(b) < 16 || string(b[4:8]) != "ftyp" {
		return false
	}
	size := binary.BigEndian.Uint32(b[:4])
	// ftyp holds a major brand, a minor version and whole compatible brands;
	// real ones are tiny, so a huge size means this is not an ftyp at all.
	if size < 16 || size > 4096 || (size-16)%4 != 0 {
		return false
	}
	brand := string(b[8:12])
	for _, c := range []byte(brand) {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return !imageBrands[brand]
}

// EBML element IDs (with their length markers, as written).
const (
	ebmlHeaderID = 0x1A45DFA3
	ebmlDocType  = 0x4282
)

// asfHeader is the GUID of an ASF (WMV, WMA) Header Object.
var asfHeader = []byte{0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C}

// isEBML reports whether b starts with an EBML header of the given DocType
// ("webm" or "matroska").
func isEBML(b []byte, docType string) bool {
	id, n, ok := ebmlID(b)
	if !ok || id != ebmlHeaderID {
		return false
	}
	b = b[n:]
	size, n, ok := ebmlSize(b)
	if !ok {
		return false
	}
	b = b[n:]
	if size < uint64(len(b)) {
		b = b[:size]
	}
	for len(b) > 0 {
		id, n, ok := ebmlID(b)
		if !ok {
			return false
		}
		b = b[n:]
		size, n, ok := ebmlSize(b)
		if !ok || size > uint64(len(b)-n) {
			return false
		}
		b = b[n:]
		if id == ebmlDocType {
			return string(bytes.TrimRight(b[:size], "\x00")) == docType
		}
		b = b[size:]
	}
	return false
}

// ebmlID reads an element ID (1-4 bytes, marker bits kept).
func ebmlID(b []byte) (id uint32, n int, ok bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false
	}
	n = 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if n > 4 || len(b) < n {
		return 0, 0, false
	}
	for _, c := range b[:n] {
		id = id<<8 | uint32(c)
	}
	return id, n, true
}

// ebmlSize reads a data size (1-8 bytes, marker bit removed).
func ebmlSize(b []byte) (size uint64, n int, ok bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false
	}
	n = 1
	mask := byte(0x80)
	for ; b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if len(b) < n {
		return 0, 0, false
	}
	size = uint64(b[0] & (mask - 1))
	for _, c := range b[1:n] {
		size = size<<8 | uint64(c)
	}
	return size, n, true
}

// oggCodecs are the first-packet signatures of codecs found in Ogg files.
var oggCodecs = [][]byte{
	[]byte("\x80theora"), []byte("\x01vorbis"), []byte("OpusHead"),
	[]byte("\x7fFLAC"), []byte("Speex   "), []byte("fishead\x00"), []byte("\x80daala"),
}

func isOgg(b []byte) bool {
	// Page header: "OggS", version, header type, granule(8), serial(4),
	// sequence(4), CRC(4), segment count, segment table.
	if len(b) < 28 || string(b[:4]) != "OggS" || b[4] != 0 || b[5]&0x02 == 0 {
		return false
	}
	nseg := int(b[26])
	if nseg == 0 || len(b) < 27+nseg {
		return false
	}
	payload := b[27+nseg:]
	for _, sig := range oggCodecs {
		if bytes.HasPrefix(payload, sig) {
			return true
		}
	}
	return false
}
