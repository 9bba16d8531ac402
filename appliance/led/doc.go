// Package led drives the board's status LED through the kernel's LED class
// (/sys/class/leds/NAME/{trigger,brightness}) with blink patterns a person
// walking past can tell apart. The sysfs root is a parameter, so tests use
// a directory laid out like sysfs and read back real file writes.
//
// Patterns, most urgent first (the most urgent condition wins):
//
//	AuditFailed  solid on                               audit chain verification failed
//	DiskFull     fast blink, 100 ms on / 100 ms off     disk nearly full or refusing recordings
//	NoSIP        slow blink, 1 s on / 1 s off           no SIP seen for a while: mirror port wrong?
//	SyncFailing  three short blinks, then 1.5 s off     sync to the archive failing for over 48 hours
//	Recording    heartbeat: two short blinks a second   recording normally
//	Off          off                                    not running
package led
