package certify_test

import (
	"context"
	"strings"
	"testing"

	"github.com/zconform/zconform/certify"
)

// A broken adapter gets a verdict with a clear reason, never a hang.
func TestBrokenAdapters(t *testing.T) {
	for _, c := range []struct {
		name, script, want string
	}{
		{"not JSON", `read line; echo "hello"; read line`, "not a JSON report"},
		{"exits", `echo "boom" >&2; exit 3`, "the adapter exited"},
		{"missing command", "", "start"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := []string{"sh", "-c", c.script}
			if c.script == "" {
				cmd = []string{"/nonexistent/adapter"}
			}
			vs, err := certify.Run(context.Background(), certify.NewProcess("broken", "0", "", cmd...),
				certify.Options{Only: []string{"ACCESS-TOKEN-REUSED"}})
			if err != nil {
				t.Fatal(err)
			}
			v := vs[0]
			text := v.Reason + strings.Join(v.Evidence, "\n")
			if v.Outcome == certify.Pass || !strings.Contains(text, c.want) {
				t.Fatalf("%s: %s\n%s", v.Outcome, v.Reason, text)
			}
		})
	}
}

func TestScenariosAreDescribed(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range certify.Scenarios() {
		if seen[s.ID] || s.Title == "" || s.Basis == "" || (len(s.Seeds) == 0 && len(s.Faults) == 0) {
			t.Errorf("scenario %s is duplicated or incomplete", s.ID)
		}
		seen[s.ID] = true
	}
}
