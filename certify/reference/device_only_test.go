package reference_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/zconform/zconform/certify"
	"github.com/zconform/zconform/certify/reference"
)

// deviceOnly is a limited-input app: the careful reference's device flow,
// but no browser, so it cannot take an authorization's redirect.
type deviceOnly struct{ reference.Careful }

func (d *deviceOnly) Redirect(context.Context, url.Values) certify.Report {
	return certify.Report{Unsupported: "a TV app has no browser to come back to"}
}

// An integration without a browser is certified on the flows it has: the
// device scenarios' positive control is a device sign-in and the backend
// job's a client-credentials call, so it passes them, and never worked for
// the scenarios of the redirect flow. One that cannot even sign in with the
// device flow fails the device scenarios' control.
func TestIntegrationWithoutABrowser(t *testing.T) {
	vs := verdicts(t, factory(func() certify.Integration { return &deviceOnly{} }), true)
	for id, v := range vs {
		own := strings.HasPrefix(id, "DEVICE-") || id == "CC-BACKEND-JOB"
		switch {
		case own && v.Outcome != certify.Pass:
			t.Errorf("%s: %s %s, want pass for an app without a browser", id, v.Outcome, v.Reason)
		case !own && (v.Outcome != certify.Fail || !strings.Contains(v.Reason, "never worked")):
			t.Errorf("%s: %s %s, want a failed control (no redirect flow)", id, v.Outcome, v.Reason)
		}
	}
	broken := verdicts(t, factory(func() certify.Integration { return &brokenDevice{} }), true)
	for id, v := range broken {
		if strings.HasPrefix(id, "DEVICE-") && (v.Outcome != certify.Fail || !strings.Contains(v.Reason, "the integration never worked")) {
			t.Errorf("%s: %s %s, want the device control to fail", id, v.Outcome, v.Reason)
		}
	}
}

// brokenDevice says it started a sign-in but never asks for a device code.
type brokenDevice struct{ deviceOnly }

func (b *brokenDevice) DeviceStart(context.Context) certify.Report { return certify.Report{OK: true} }
