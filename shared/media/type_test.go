package media

import "testing"

func TestTypeByName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"a.mp4": "video/mp4", "B.M4V": "video/mp4", "c.webm": "video/webm", "d.ogv": "video/ogg", "e.ogg": "video/ogg",
		"f.MOV": "video/quicktime", "g.mkv": "video/x-matroska", "h.avi": "video/x-msvideo", "i.wmv": "video/x-ms-asf",
		"j.png": "", "noext": "", "k.mp4.txt": "", "": "",
	} {
		if got := TypeByName(name); got != want {
			t.Errorf("TypeByName(%q) = %q, want %q", name, got, want)
		}
	}
}
