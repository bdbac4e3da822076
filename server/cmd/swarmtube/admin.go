package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/swarmtube/swarmtube/server/accounts"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/datadir"
	"github.com/swarmtube/swarmtube/server/store"
)

const adminUsage = `usage: swarmtube admin COMMAND [flags] [arguments]

Account administration on a pod's data directory, with the pod stopped
(it refuses while a pod holds the directory). Commands:

  users                              list the users and their rights
  reset-password [--password P] USER set USER's password and end their sessions;
                                     without --password (or $SWARMTUBE_PASSWORD)
                                     a random one is made and printed
  grant USER RIGHT...                give USER rights (upload, admin)
  revoke USER RIGHT...               take rights from USER (the last admin keeps admin)

Every command takes --data DIR (default ./data, or $SWARMTUBE_DATA).
swarmtube admin COMMAND --help describes one command.
`

// adminCommand is one `swarmtube admin` subcommand.
type adminCommand struct {
	synopsis string // arguments after the command name
	args     func(n int) bool
	run      func(ctx context.Context, acc *accounts.Service, args []string, password string, out io.Writer) error
}

var adminCommands = map[string]adminCommand{
	"users": {
		synopsis: "",
		args:     func(n int) bool { return n == 0 },
		run:      adminUsers,
	},
	"reset-password": {
		synopsis: "[--password P] USER",
		args:     func(n int) bool { return n == 1 },
		run:      adminResetPassword,
	},
	"grant": {
		synopsis: "USER RIGHT...",
		args:     func(n int) bool { return n >= 2 },
		run: func(ctx context.Context, acc *accounts.Service, args []string, _ string, out io.Writer) error {
			return adminChangeRights(ctx, acc, args[0], args[1:], true, out)
		},
	},
	"revoke": {
		synopsis: "USER RIGHT...",
		args:     func(n int) bool { return n >= 2 },
		run: func(ctx context.Context, acc *accounts.Service, args []string, _ string, out io.Writer) error {
			return adminChangeRights(ctx, acc, args[0], args[1:], false, out)
		},
	},
}

// runAdmin implements `swarmtube admin COMMAND ...` (see adminUsage). It
// takes the data directory's lock like a pod, so it never writes beside a
// running pod; errors are one plain sentence.
func runAdmin(args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, adminUsage)
		if len(args) == 0 {
			return errors.New("name a command")
		}
		return flag.ErrHelp
	}
	name := args[0]
	cmd, ok := adminCommands[name]
	if !ok {
		return fmt.Errorf("unknown command %q (swarmtube admin --help lists them)", name)
	}
	fs := flag.NewFlagSet("swarmtube admin "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	data := fs.String("data", "./data", "the pod's data directory ($SWARMTUBE_DATA also sets it)")
	var password *string
	if name == "reset-password" {
		password = fs.String("password", "", "the new password (default $SWARMTUBE_PASSWORD, else a random one, printed)")
	}
	if v := getenv("SWARMTUBE_DATA"); v != "" {
		*data = v
	}
	rest, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: swarmtube admin %s [--data DIR] %s\n", name, cmd.synopsis)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
		}
		return err
	}
	if !cmd.args(len(rest)) {
		return fmt.Errorf("usage: swarmtube admin %s [--data DIR] %s", name, cmd.synopsis)
	}
	pw := ""
	if password != nil {
		pw = *password
		if pw == "" {
			pw = getenv("SWARMTUBE_PASSWORD")
		}
	}

	if _, err := os.Stat(filepath.Join(*data, "swarmtube.db")); err != nil {
		return fmt.Errorf("no pod data in %s (no swarmtube.db there): give --data the pod's data directory", *data)
	}
	lock, err := datadir.Acquire(*data)
	if err != nil {
		return err
	}
	defer lock.Release()
	st, err := store.Open(filepath.Join(*data, "swarmtube.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	acc, err := accounts.New(st, accounts.Config{}, log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return cmd.run(ctx, acc, rest, pw, stdout)
}

// parseInterspersed parses fs's flags wherever they stand among args and
// returns the other arguments in order, so `grant alice upload --data DIR`
// means what `grant --data DIR alice upload` does. The flag package alone
// stops at the first non-flag, which made a trailing --data a right name or
// a surplus argument and sent the command to ./data. After "--" everything
// is an argument. No username or right starts with '-' (a file name that
// does, for import, is given after "--" or as ./-name).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func adminUsers(_ context.Context, acc *accounts.Service, _ []string, _ string, out io.Writer) error {
	users, err := acc.List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tRIGHTS\tCREATED")
	for _, u := range users {
		rights := strings.Join(u.Rights, ",")
		if rights == "" {
			rights = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Username, rights, u.CreatedAt.UTC().Format(time.DateOnly))
	}
	return tw.Flush()
}

func adminResetPassword(ctx context.Context, acc *accounts.Service, args []string, password string, out io.Writer) error {
	generated := password == ""
	if generated {
		b := make([]byte, 15)
		_, _ = rand.Read(b)
		password = base64.RawURLEncoding.EncodeToString(b)
	}
	ended, err := acc.SetPassword(ctx, args[0], password)
	if err != nil {
		return publicText(err)
	}
	fmt.Fprintf(out, "password of %s reset; %d session(s) ended\n", strings.ToLower(args[0]), ended)
	if generated {
		fmt.Fprintf(out, "new password: %s\n", password)
	}
	return nil
}

func adminChangeRights(ctx context.Context, acc *accounts.Service, user string, rights []string, grant bool, out io.Writer) error {
	u, err := acc.Get(user)
	if err != nil {
		return publicText(err)
	}
	if err := accounts.ValidRights(rights); err != nil {
		return badRight(rights)
	}
	next := slices.Clone(u.Rights)
	for _, r := range rights {
		has := slices.Contains(next, r)
		switch {
		case grant && !has:
			next = append(next, r)
		case !grant && has:
			next = slices.DeleteFunc(next, func(x string) bool { return x == r })
		}
	}
	slices.Sort(next)
	if u, err = acc.SetRights(ctx, user, next); err != nil {
		return publicText(err)
	}
	now := strings.Join(u.Rights, ", ")
	if now == "" {
		now = "no rights"
	}
	fmt.Fprintf(out, "%s now has: %s\n", u.Username, now)
	return nil
}

// badRight names what accounts.ValidRights refused in rights, in one
// sentence: a word that is not a right, or a right named twice.
func badRight(rights []string) error {
	for i, r := range rights {
		if r != api.RightUpload && r != api.RightAdmin {
			return fmt.Errorf("%q is not a right: rights are upload and admin", r)
		}
		if slices.Contains(rights[:i], r) {
			return fmt.Errorf("%q is named twice", r)
		}
	}
	return errors.New("rights are upload and admin")
}

// publicText turns an accounts error into its sentence for a person
// ("no user has this name"), without the machine code.
func publicText(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i > 0 && !strings.Contains(msg[:i], " ") {
		msg = msg[i+2:]
	}
	return errors.New(msg)
}
