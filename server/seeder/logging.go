package seeder

import (
	"context"
	"log/slog"
	"strings"

	alog "github.com/anacrolix/log"
)

// newAnacrolixLogger returns an anacrolix logger that writes to l.
// anacrolix's Info is chatty (per-peer and per-tracker events), so it goes
// to Debug; its Debug and unset levels are dropped before formatting.
func newAnacrolixLogger(l *slog.Logger) alog.Logger {
	al := alog.NewLogger("anacrolix")
	al.SetHandlers(slogHandler{l})
	return al.WithFilterLevel(alog.Info)
}

type slogHandler struct{ l *slog.Logger }

func (h slogHandler) Handle(r alog.Record) {
	level := slog.LevelDebug
	switch r.Level {
	case alog.Warning:
		level = slog.LevelWarn
	case alog.Error, alog.Critical:
		level = slog.LevelError
	}
	if !h.l.Enabled(context.Background(), level) {
		return
	}
	h.l.Log(context.Background(), level, r.Msg.String(), slog.String("component", strings.Join(r.Names, "/")))
}
