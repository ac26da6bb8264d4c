// Package examples holds zconform's examples for other people's pipelines
// and test suites, and the tests that keep them working:
//
//	ci/github/   GitHub Actions workflows: go test with the fake in-process,
//	             the fake for a non-Go suite (service container, or the
//	             release binary in the background), a nightly staging run
//	ci/gitlab/   the same three uses as one GitLab CI file
//	ci/          templates of the staging target and deviations files
//	python/      a pytest fixture that starts the fake, registers a client
//	             and gets a code, and tests that use it
//
// The tests lint the workflows with the actionlint pinned in go.mod, check
// the GitLab file's structure, load the templates with zconform's own
// loaders, run the workflows' shell steps against a local release server,
// a fake gh and a fake GitLab API, and run the pytest example against a
// freshly built zconform. Each check is also run on a broken copy, which
// it must reject. See README.md.
package examples
