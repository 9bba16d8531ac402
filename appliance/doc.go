// Package appliance wires the branch box together: live capture into the
// vault, retention on a schedule, the LED, the local status page, the
// Prometheus metrics and the local API for agent desktops and the CRM.
//
// Start-up order matters and is fixed: the configuration is validated
// before anything starts; the capture sockets and the listening socket are
// opened while the process still has its capabilities, which are then
// dropped; retention deletes nothing until the clock is synchronised; and
// on SIGTERM capture stops first, then every call in progress is sealed
// ("ended by shutdown"), then the vault is closed.
//
// What the box says of itself is never better than the truth: a recording
// error makes it "recording failing" for RecordFailingFor (page, LED,
// alert); traffic only an attacker sends (shed capture state, a claim on a
// live call's media, spoofed media, refused connections, an INVITE flood)
// makes it "under attack" for AttackFor, with the signs named, while it
// goes on recording. Neither the page nor /api/status nor /metrics holds
// a number, a name, a Call-ID or an address.
//
// Connections to the page and the API are bounded overall and per source
// (status.max_conns, status.max_conns_per_ip), fairly: when all slots are
// taken a newcomer takes the oldest idle connection of the heaviest
// source, if that source holds more than the newcomer's; a connection
// whose first request carries a valid API token is served from reserved
// capacity (half of max_conns) and never taken, so that idle connections
// from many sources cannot keep an agent's desk from pausing a recording
// (connlimit.go).
//
// Sync to the central archive runs behind the Syncer interface; without
// it the status page says "not configured" and no figure about sync is
// invented. A box built for an archive ([enroll]: its addresses and CA
// fingerprint, no [sync] section) enrolls itself (enroll.go): it shows its
// enrollment code on the page (enroll: "asking" until an archive holds
// the request, then "pending") and spells it on the LED (led.Enrolling)
// until approved, then syncs without a restart and keeps
// the approval in enroll.dir. Central policies from the archive
// (policy.go) change retention at once, the sync window and rate at the
// next pass, capture.extensions at the next start. A firmware update the
// archive offers (update.go) is downloaded inside the window, verified,
// written through gokrazy and test-booted; the daemon stops as on SIGTERM
// before the reboot, and the new firmware confirms itself only after a
// healthy sync pass, or the init rolls it back (appliance/firmware).
//
// The status page is an embedded template (status.html, styled by
// status.css) over the Status, rendered into a buffer first, under a CSP
// that allows its own style sheet and nothing else (no script, no inline
// style). It draws the last day of calls, packets, kernel drops and disk
// as inline SVG from the box's counters, sampled every five minutes into
// a bounded ring in memory (trends.go; a restart begins anew), and says
// how old each count from the index is (the index is walked at most once
// a minute). The API's errors are written by internal/httperr, the archive's
// writer too: {"error": text}.
package appliance
