// Package procgroup starts a command in a process group of its own and
// signals or kills the whole group: what the command started goes with
// it. Where the system has no process groups (Windows), the command alone
// is signalled or killed.
package procgroup
