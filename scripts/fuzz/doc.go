// Package fuzz holds the tests of scripts/fuzz/run, the loop of `make
// fuzz`: a finding fails the run; Go 1.26's bare deadline at the time
// limit (golang/go#75804) does not.
package fuzz
