package textfold

import (
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

func TestFold(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Élan Straße Øresund Łódź ﬁlm", "elan strasse oresund lodz film"},
		{"Ærø", "aero"},
		{"ŒUVRE œuvre", "oeuvre oeuvre"},
		{"Þingvellir Đakovo ẞ", "thingvellir dakovo ss"},
		{"ﬂoß ﬀ ﬃ", "floss ff ffi"},
		{"ＦＵＬＬ ｗｉｄｔｈ ²³", "full width 23"},
		{"İstanbul ıspanak", "istanbul ispanak"},
		{"ŉ Ǆ ĳ", "n dz ij"},
		{"e\u0301le\u0300ve", "eleve"}, // already decomposed
		{"ΣΟΦΟΣ σοφος", "σοφοσ σοφοσ"},
		{"Привет Йошкар", "привет иошкар"},
		{"plain ASCII, MiXeD", "plain ascii, mixed"},
		{"", ""},
	} {
		if got := Fold(tc.in); got != tc.want {
			t.Errorf("Fold(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestFoldIdempotent: folded text folds to itself, so the index and the
// query meet whatever was folded first.
func TestFoldIdempotent(t *testing.T) {
	t.Parallel()
	for r := rune(0); r < 0x3000; r++ {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			continue
		}
		once := Fold(string(r))
		if twice := Fold(once); twice != once {
			t.Errorf("Fold(Fold(%U)) = %q, Fold = %q", r, twice, once)
		}
	}
}

// TestTableLettersHaveNoDecomposition keeps the table to what NFKD cannot
// do: every entry is a letter that Fold would otherwise keep as it is.
func TestTableLettersHaveNoDecomposition(t *testing.T) {
	t.Parallel()
	for r := range letters {
		if r == 'ʼ' || r == 'ς' {
			continue
		}
		if norm.NFKD.String(string(r)) != string(r) {
			t.Errorf("%c (%U) decomposes: NFKD handles it, the table must not", r, r)
		}
		if !unicode.IsLower(r) {
			t.Errorf("%c (%U) is not lower case: upper case never reaches the table", r, r)
		}
	}
}

func FuzzFold(f *testing.F) {
	for _, s := range []string{"Élan Straße", "ﬁ", "Ærø", "\xff", "e\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := Fold(s)
		if Fold(once) != once {
			t.Errorf("not idempotent on %q", s)
		}
	})
}

func BenchmarkFold(b *testing.B) {
	s := "Élan Straße Øresund Łódź ﬁlm — a description of some length, with plain words too"
	for b.Loop() {
		Fold(s)
	}
}
