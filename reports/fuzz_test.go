package reports_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/zconform/zconform/reports"
)

// FuzzDeviations feeds ParseDeviations any bytes: it answers checked
// deviations or *DeviationsErrors naming the file, never panics; accepted
// entries are complete and Check and AppliesTo work on them.
func FuzzDeviations(f *testing.F) {
	for _, s := range []string{
		deviationsYAML,
		"target: \"*\"\ndeviations: []\n",
		"target: t\ndeviations:\n  - {case: A, reason: r, link: https://x.example/1, profile: kaizen4, dc: EU}\n  - {case: A, reason: r, link: https://x.example/2, profile: accounts-2025}\n",
		"target: t\ndeviations:\n  - {case: A, reason: r, link: https://x.example/1, observed: {http_status: 700}}\n",
		"target: t\ndeviations:\n  - case: A\n    observed: {}\n    link: ftp://x\n",
		"target: t\n---\ntarget: u\n",
		"target: &a t\ndeviations: *a\n",
		"deviations: {case: A}\n",
		"- a\n",
		"",
		"target: t\ndeviations:\n  - {case: \"A B\", colour: red}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz/deviations.yaml"
		d, err := reports.ParseDeviations(name, data)
		if err != nil {
			if d != nil {
				t.Fatalf("ParseDeviations returned deviations and an error: %v", err)
			}
			checkDeviationsError(t, name, err)
			return
		}
		if d.Target == "" || d.File != name {
			t.Fatalf("accepted deviations without a target or file: %+v", d)
		}
		var ids []string
		for _, e := range d.Deviations {
			if e.Case == "" || e.Reason == "" || e.Link == "" || e.File != name {
				t.Fatalf("accepted an incomplete entry: %+v", e)
			}
			ids = append(ids, e.Case)
		}
		if err := d.Check(ids); err != nil {
			t.Fatalf("Check refuses the file's own case IDs: %v", err)
		}
		if err := d.Check(nil); len(ids) > 0 {
			checkDeviationsError(t, name, err)
		}
		_ = d.AppliesTo(d.Target)
	})
}

// checkDeviationsError: every problem is a *DeviationsError naming the file
// and saying what is wrong.
func checkDeviationsError(t *testing.T, name string, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	if len(errs) == 0 {
		t.Fatalf("an empty joined error: %q", err)
	}
	for _, e := range errs {
		var de *reports.DeviationsError
		if !errors.As(e, &de) || de.File != name || strings.TrimSpace(de.Reason) == "" || de.Line < 0 {
			t.Fatalf("a problem that is not a *DeviationsError with file and reason: %#v (all: %v)", e, err)
		}
	}
}
