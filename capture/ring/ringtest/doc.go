// Package ringtest gives live-capture tests a network of their own: a
// network namespace with its loopback up, in which sipp, the daemon and
// the test's own sockets run, so that tests see only their own traffic and
// never touch the machine's interfaces.
package ringtest
