package certify_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zconform/zconform/certify"
	"github.com/zconform/zconform/fixtures"
	"github.com/zconform/zconform/internal/version"
	"github.com/zconform/zconform/reports"
)

func TestCertificateMeta(t *testing.T) {
	digest := fixtures.CatalogueDigest()
	judge := version.Get().String() + ", catalogue " + digest
	if certify.Judge() != judge {
		t.Errorf("Judge() = %q, want %q", certify.Judge(), judge)
	}
	c := certify.CertificateMeta("acme-sync", "1.4.0", "go:careful", certify.Options{InProcess: true})
	want := reports.Certificate{Integration: "acme-sync", Version: "1.4.0", Adapter: "go:careful", Zconform: judge,
		ScenarioSet: certify.ScenarioSet(), Fake: "profile kaizen4, virtual clock, a fresh fake per scenario, in-process on Zoho's real host names"}
	if *c != want {
		t.Errorf("CertificateMeta = %+v\nwant %+v", *c, want)
	}
	if c := certify.CertificateMeta("x", "", "cmd", certify.Options{Profile: "accounts-2025"}); !strings.HasPrefix(c.Fake, "profile accounts-2025,") || !strings.HasSuffix(c.Fake, ", on loopback") {
		t.Errorf("Fake = %q", c.Fake)
	}
}

// A certificate records the catalogue digest beside the version of the
// build that judged: in its Certificate and in the reports' build.
func TestCertificateRecordsTheCatalogue(t *testing.T) {
	digest := fixtures.CatalogueDigest()
	run := reports.RunMeta{Target: "acme-sync", Profile: "kaizen4", Started: time.Now(),
		Certificate: certify.CertificateMeta("acme-sync", "1.4.0", "go:careful", certify.Options{})}
	r := reports.Results{Run: run, Cases: []reports.CaseResult{{ID: "API-DOMAIN-AND-HEADER", Title: "calls the api_domain it was given",
		Area: reports.CertificationClass, Seeds: []string{}, Basis: "seed", Outcome: reports.Passed}}}
	dir := t.TempDir()
	files, err := reports.WriteResults(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Run struct {
			Certificate struct {
				Zconform string `json:"zconform"`
			} `json:"certificate"`
			Build struct {
				Version   string `json:"version"`
				Catalogue string `json:"catalogue"`
			} `json:"build"`
		} `json:"run"`
	}
	data, err := os.ReadFile(files.Results)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.Run.Certificate.Zconform, "zconform "+version.Get().Version+", ") ||
		!strings.HasSuffix(doc.Run.Certificate.Zconform, ", catalogue "+digest) ||
		doc.Run.Build.Catalogue != digest || doc.Run.Build.Version != version.Get().Version {
		t.Errorf("results.json: certificate zconform %q, build %+v; want the version and catalogue %s", doc.Run.Certificate.Zconform, doc.Run.Build, digest)
	}
	md, err := os.ReadFile(filepath.Join(dir, reports.SummaryMDFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{"| Judged by | " + certify.Judge() + " |", "| Catalogue | " + digest + " |"} {
		if !strings.Contains(string(md), row+"\n") {
			t.Errorf("summary.md lacks %q", row)
		}
	}
}
