// Package reports turns a Ginkgo report of a conformance run into the files
// a CI system and a person read: JUnit XML, Ginkgo JSON, a results JSON for
// run-to-run diffs, and a certification summary in Markdown and HTML.
// Secrets (client secrets, codes, tokens) are redacted from everything it
// writes.
//
// # Use
//
// Each conformance spec adds its CaseMeta (AddReportEntry(EntryName, ...))
// first thing, and may add an Observed (ObservedEntryName). The suite's
// ReportAfterSuite calls
//
//	files, err := reports.Write(dir, report, reports.RunMeta{...})
//
// and `zconform run` prints Results.Verdict and Results.Failed, reading
// results.json back with ReadResults when it needs to. RunMeta.Breaks
// comes from BreaksFromEnv; RunMeta.Build is filled in by this package
// (CurrentBuild) whatever the caller passes.
//
// Results built by hand (`zconform certify` builds one from its scenario
// verdicts) are written with
//
//	files, err := reports.WriteResults(dir, results)
//
// which writes the same files but ginkgo.json, recounting Totals and
// redacting and cleaning every string as FromReport does.
//
// Under ginkgo -p the ReportAfterSuite gets the aggregated report, in which
// the entries of specs that ran on other processes hold JSON-decoded maps
// (and AsJSON) rather than a CaseMeta; FromReport reads both forms.
//
// # What is a case
//
// A spec with a CaseMeta entry is a case. A spec labelled case:<ID> that
// failed, or was skipped with a reason, before its body added the entry (a
// failing BeforeEach, a Skip in a BeforeEach) is a case too, rebuilt from
// its labels (case:, seed:, area:, basis:, needs:, destructive, slow), its
// text ("<ID>: <title>") and its Entry's code location (the catalogue row);
// its MetaSource is "labels" and its DC unknown. Other specs are no cases:
// specs filtered out or never reached are left out, and a failed one
// (BeforeSuite, AfterSuite, a spec that names no case, ...) is a
// RunFailure. So is each of Ginkgo's special reasons when it reports the
// suite as failed (interrupted, timed out, --fail-on-pending, ...). Any
// failed case or run failure fails the run; a run with no case fails too.
// When no case ran because the run's filters matched none
// (Results.NoCaseMatched, from Ginkgo's PreRunStats), the verdict says
// "NO CASES: the label filter '…' matched none of the N cases".
//
// # The files
//
// junit.xml: <testsuites> holding one <testsuite name="zconform
// conformance"> with tests, failures, errors, skipped, time and timestamp.
// The file validates, as written, against jenkins-junit.xsd (a copy with
// its MIT notice is testdata/jenkins-junit.xsd), which allows
// <properties> on the testsuite only. Suite <properties>: target, profile,
// label_filter, started, verdict, the build that wrote the file
// (zconform_version, zconform_commit, go_version, catalogue_digest), and
// when they apply breaks (the rules the fake broke, comma-separated),
// no_cases ("true" when the filters matched no case), off_contract and
// deviations. The suite's <system-out> says the same as "key: value"
// lines. One <testcase> per case, name "<ID>: <title>", classname the
// area, status passed|failed|skipped|deviated, time in seconds, with
//
//   - <skipped>reason</skipped> for a skipped case (jenkins-junit.xsd
//     allows no attributes on skipped);
//   - <failure message="the whole failure message" type="failed|panicked|
//     timedout|interrupted|aborted"> whose text is the message, then where
//     it failed and the catalogue row;
//   - <system-out>: the case's metadata and outcome as "key: value" lines,
//     the metadata first: case, title, seeds (", "-separated), area,
//     basis, needs, target, dc, profile, catalogue ("file:line"), then
//     outcome, skip reason or failure, observed, the deviations file's
//     entry (deviation, deviation link, ..., no longer deviates) and
//     duration; a field without a value gets no line. Jenkins, GitLab and
//     the GitHub test reporters show it with the case; results.json holds
//     the same fields;
//   - <system-err>: the failed spec's captured output;
//   - for a case that deviated as the run's deviations file says: no
//     <failure>, and the deviation in its system-out.
//
// Then one <testcase classname="setup"> with an <error> per run failure,
// named "[BeforeSuite]", "[It] text" or "[suite] reason". So tests = cases +
// run failures, failures = failed cases, errors = run failures. Texts are
// CDATA.
//
// ginkgo.json: Ginkgo's own JSON report (what --json-report writes: an
// array of one types.Report), redacted.
//
// results.json: Results (format ResultsFormat), see its fields; durations
// are strings such as "1.5s".
//
// summary.md and summary.html: the certification summary. A header (target,
// profile, date, verdict, the fake's breaks, cases by outcome, cases
// resting on an assumption, seed IDs covered, the zconform build and the
// catalogue digest), the coverage table grouped by the
// sections of the Kaizen #4 post in the post's order, one row per seed ID
// and case (every seed ID of zoho.Seeds, "no case run" when none covered
// it; cases citing other seed IDs, or none, in two more groups), then the
// run failures, the failures with their messages and the skipped cases
// with their reasons, and the expected deviations (reason, link), the cases
// that stopped deviating and those deviating differently. The HTML is one
// self-contained HTML5 page (inline
// CSS, no script, no external resource).
//
// # Certificates
//
// When RunMeta.Certificate is set, the cases are a certification's
// scenarios (passed, failed, or skipped for "not applicable") and the
// reports read as a certificate. The summaries are titled "zconform
// integration certificate"; their header names the integration, its
// version and the adapter instead of the target, the build that judged
// ("Judged by": Certificate.Zconform, else the build's version, commit and
// Go) and the catalogue digest, and counts "N scenarios: P pass, F fail,
// A not applicable"; the coverage table marks pass, fail,
// not applicable and "no scenario", and groups the scenarios without a
// seed ID (faults on the wire) under "Faults on the wire and other rules";
// "Failed scenarios" show each message (the reason, then the evidence) in
// a code block, and "Not applicable" lists the reasons. In junit.xml the
// suite is "zconform certification: <integration>" with the suite
// properties integration, version and adapter besides the usual ones, and
// every testcase's classname is "certification". Verdict reads as
// CertificateVerdict ("FAIL: 3 of 9 scenarios failed (A, B, C), 1 not
// applicable"), and Pass also wants one scenario passed.
package reports
