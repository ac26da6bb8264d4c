package reports

import (
	"bytes"
	"fmt"
	"html/template"
)

var summaryHTMLTemplate = template.Must(template.New("summary.html").Funcs(template.FuncMap{
	"basisMark":     basisMark,
	"caseLine":      caseLine,
	"orDash":        orDash,
	"evidenceWhere": func() string { return EvidenceWhere },
	"rowspan":       func(s summarySeed) int { return max(1, len(s.Cases)) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.PageTitle}}</title>
<style>
:root { --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #b3261e; --fail-bg: #ffebe9; --skip: #7a5c00; --skip-bg: #fff8c5; --dev: #9a4d00; --dev-bg: #fff1e5; --none: #57606a; --none-bg: #f0f2f4; --line: #d0d7de; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 2rem auto; max-width: 76rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .5rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
table.meta { width: auto; }
table.coverage { table-layout: fixed; }
table.coverage col.c-seed { width: 15rem; }
table.coverage col.c-outcome { width: 9rem; }
table.coverage col.c-basis { width: 7rem; }
td.o-passed, td.o-failed, td.o-skipped, td.o-deviated, td.o-none { white-space: nowrap; }
table.meta th { font-weight: 600; white-space: nowrap; }
.verdict { display: inline-block; font-weight: 700; font-size: 1.1rem; padding: .35rem .8rem; border-radius: .4rem; margin: .3rem 0 1rem; }
.verdict.pass { color: var(--pass); background: var(--pass-bg); border: 1px solid var(--pass); }
.verdict.fail { color: var(--fail); background: var(--fail-bg); border: 1px solid var(--fail); }
td.o-passed { color: var(--pass); background: var(--pass-bg); font-weight: 600; }
td.o-failed { color: var(--fail); background: var(--fail-bg); font-weight: 600; }
td.o-skipped { color: var(--skip); background: var(--skip-bg); }
td.o-deviated { color: var(--dev); background: var(--dev-bg); font-weight: 600; }
td.o-none { color: var(--none); background: var(--none-bg); font-style: italic; }
td.seed { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: nowrap; border-left-width: 4px; }
td.seed.s-passed { border-left-color: var(--pass); }
td.seed.s-failed { border-left-color: var(--fail); }
td.seed.s-skipped { border-left-color: var(--skip); }
td.seed.s-deviated { border-left-color: var(--dev); }
td.seed.s-none { border-left-color: var(--none); }
.assumed { color: #8a4600; font-weight: 600; }
.failure, .runfailure { border-left: 4px solid var(--fail); padding: .1rem 0 .1rem 1rem; margin: 1rem 0; }
.deviation { border-left: 4px solid var(--dev); padding: .1rem 0 .1rem 1rem; margin: 1rem 0; }
.caseline { color: #57606a; margin: .2rem 0 .5rem; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: .3rem; padding: .6rem .8rem; overflow-x: auto; white-space: pre-wrap; word-break: break-word; font-size: .9em; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
a { color: inherit; }
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<p class="verdict {{if .Pass}}pass{{else}}fail{{end}}">{{.Verdict}}</p>
<table class="meta">
<tbody>
{{- with .Certificate}}
<tr><th scope="row">Integration</th><td>{{orDash .Integration}}</td></tr>
<tr><th scope="row">Version</th><td>{{orDash .Version}}</td></tr>
<tr><th scope="row">Adapter</th><td>{{orDash .Adapter}}</td></tr>
{{- if .ScenarioSet}}
<tr><th scope="row">Scenario set</th><td>{{.ScenarioSet}}</td></tr>
{{- end}}
{{- if .Fake}}
<tr><th scope="row">Fake</th><td>{{.Fake}}</td></tr>
{{- end}}
{{- else}}
<tr><th scope="row">Target</th><td>{{orDash .Results.Run.Target}}</td></tr>
{{- end}}
<tr><th scope="row">Expected profile</th><td>{{orDash .Results.Run.Profile}}</td></tr>
<tr><th scope="row">Date</th><td>{{.Date}}</td></tr>
{{- if .Results.Run.LabelFilter}}
<tr><th scope="row">Label filter</th><td><code>{{.Results.Run.LabelFilter}}</code></td></tr>
{{- end}}
{{- if .BreaksText}}
<tr><th scope="row">Fake breaks</th><td>{{.BreaksText}}</td></tr>
{{- end}}
{{- if .Results.Run.OffContract}}
<tr><th scope="row">Off contract</th><td>{{.Results.Run.OffContract}}</td></tr>
{{- end}}
{{- if .Deviations}}
<tr><th scope="row">Deviations file</th><td>{{.DeviationsText}}</td></tr>
{{- end}}
<tr><th scope="row">{{if .Certificate}}Scenarios{{else}}Cases{{end}}</th><td>{{.CountsText}}</td></tr>
{{- if .Certificate}}
<tr><th scope="row">Evidence</th><td>{{evidenceWhere}}</td></tr>
{{- end}}
<tr><th scope="row">Resting on an assumption</th><td>{{.Results.Totals.Assumed}} of {{.Results.Totals.Cases}} {{if eq .Results.Totals.Cases 1}}{{.Words.Case}}{{else}}{{.Words.Cases}}{{end}} (basis <span class="assumed">⚠️ assumed</span>)</td></tr>
<tr><th scope="row">Seed IDs</th><td>{{.SeedsText}}</td></tr>
{{- if .RunFailures}}
<tr><th scope="row">Run failures</th><td>{{len .RunFailures}} (see below)</td></tr>
{{- end}}
<tr><th scope="row">Duration</th><td>{{.Results.Duration}}</td></tr>
{{- if .JudgedBy}}
<tr><th scope="row">{{.JudgedByLabel}}</th><td>{{.JudgedBy}}</td></tr>
{{- end}}
{{- if .Catalogue}}
<tr><th scope="row">Catalogue</th><td>{{.Catalogue}}</td></tr>
{{- end}}
{{- range .Results.Notes}}
<tr><th scope="row">Note</th><td>{{.}}</td></tr>
{{- end}}
</tbody>
</table>
</header>
<main>
<section id="coverage">
<h2>Coverage by seed ID: the Kaizen #4 post (K4-) and Zoho's published protocol (ZA-)</h2>
{{- range .Sections}}
<h3>{{.Name}}</h3>
<table class="coverage">
<colgroup><col class="c-seed"><col class="c-rule"><col class="c-case"><col class="c-outcome"><col class="c-basis"></colgroup>
<thead><tr><th scope="col">Seed ID</th><th scope="col">Rule</th><th scope="col">{{$.Words.CaseColumn}}</th><th scope="col">Outcome</th><th scope="col">Basis</th></tr></thead>
<tbody>
{{- range $seed := .Seeds}}
{{- if not $seed.Cases}}
<tr><td class="seed s-none">{{orDash $seed.ID}}</td><td>{{$seed.Rule}}</td><td></td><td class="o-none">{{$.Mark $seed.Status}}</td><td></td></tr>
{{- else}}
{{- range $i, $c := $seed.Cases}}
<tr>
{{- if eq $i 0}}<td class="seed s-{{$seed.Status}}" rowspan="{{rowspan $seed}}">{{orDash $seed.ID}}</td><td rowspan="{{rowspan $seed}}">{{$seed.Rule}}</td>{{end -}}
<td>{{$c.Name}}</td><td class="o-{{$c.Outcome}}">{{if $c.Anchor}}<a href="#{{$c.Anchor}}">{{$c.Mark}}</a>{{else}}{{$c.Mark}}{{end}}</td><td{{if $c.Assumed}} class="assumed"{{end}}>{{basisMark $c.Basis}}</td></tr>
{{- end}}
{{- end}}
{{- end}}
</tbody>
</table>
{{- end}}
</section>
{{- if .RunFailures}}
<section id="run-failures">
<h2>Run failures ({{len .RunFailures}})</h2>
<p>These failed outside any case and fail the run.</p>
{{- range .RunFailures}}
<div class="runfailure">
<h3>{{.Name}}</h3>
{{- if .Location}}
<p class="caseline">At <code>{{.Location}}</code>.</p>
{{- end}}
<pre>{{.Message}}</pre>
</div>
{{- end}}
</section>
{{- end}}
{{- if .ShowDeviations}}
<section id="deviations">
<h2>Expected deviations ({{len .Deviated}})</h2>
<p>{{if .Deviations}}Deviations file: {{.DeviationsText}}. {{end}}These cases differ from the documented contract the way the deviations file says: they do not fail the run.</p>
{{- if not .Deviated}}
<p>No case deviated.</p>
{{- end}}
{{- range .Deviated}}
<div class="deviation" id="{{.Anchor}}">
<h3>{{.Name}}</h3>
<p class="caseline">{{caseLine .CaseResult}}</p>
<table class="meta">
<tbody>
<tr><th scope="row">Reason</th><td>{{.Deviation.Reason}}</td></tr>
<tr><th scope="row">Link</th><td><a href="{{.Deviation.Link}}">{{.Deviation.Link}}</a></td></tr>
<tr><th scope="row">Listed at</th><td><code>{{.Deviation.Where}}</code></td></tr>
</tbody>
</table>
<pre>{{.Message}}</pre>
</div>
{{- end}}
</section>
{{- if .Stopped}}
<section id="stopped-deviating">
<h2>Stopped deviating ({{len .Stopped}})</h2>
<p>These cases passed, but the deviations file lists them as deviating: remove them from the deviations file.</p>
<table>
<thead><tr><th scope="col">Case</th><th scope="col">Reason it was listed</th><th scope="col">Link</th><th scope="col">Listed at</th></tr></thead>
<tbody>
{{- range .Stopped}}
<tr id="{{.Anchor}}"><td>{{.Name}}</td><td>{{.Deviation.Reason}}</td><td><a href="{{.Deviation.Link}}">{{.Deviation.Link}}</a></td><td><code>{{.Deviation.Where}}</code></td></tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}
{{- if .Mismatched}}
<section id="deviating-differently">
<h2>Deviating differently ({{len .Mismatched}})</h2>
<p>The deviations file lists these cases, but they failed in another way than it says: they are failures (see below).</p>
<table>
<thead><tr><th scope="col">Case</th><th scope="col">How</th><th scope="col">Listed at</th></tr></thead>
<tbody>
{{- range .Mismatched}}
<tr><td><a href="#{{.Anchor}}">{{.Name}}</a></td><td>{{.DeviationMismatch}}</td><td><code>{{.Deviation.Where}}</code></td></tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}
{{- end}}
<section id="failures">
<h2>{{.Words.FailuresHeading}} ({{len .Failures}})</h2>
{{- if not .Failures}}
<p>{{.Words.NoFailures}}</p>
{{- end}}
{{- range .Failures}}
<div class="failure" id="{{.Anchor}}">
<h3>{{.Name}}</h3>
<p class="caseline">{{caseLine .CaseResult}}</p>
<pre>{{.Message}}</pre>
</div>
{{- end}}
</section>
<section id="skipped">
<h2>{{.Words.SkippedHeading}} ({{len .Skipped}})</h2>
{{- if not .Skipped}}
<p>{{.Words.NoSkipped}}</p>
{{- else}}
<table>
<thead><tr><th scope="col">{{.Words.CaseColumn}}</th><th scope="col">Reason</th></tr></thead>
<tbody>
{{- range .Skipped}}
<tr><td>{{.Name}}</td><td>{{orDash .Reason}}</td></tr>
{{- end}}
</tbody>
</table>
{{- end}}
</section>
</main>
</body>
</html>
`))

func summaryHTML(r Results) ([]byte, error) {
	var buf bytes.Buffer
	if err := summaryHTMLTemplate.Execute(&buf, newSummary(r)); err != nil {
		return nil, fmt.Errorf("summary.html: %v", err)
	}
	return buf.Bytes(), nil
}
