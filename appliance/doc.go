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
// Sync to the central archive is a later issue: its place is the Syncer
// interface below; until it lands the status page says "not configured"
// and no figure about sync is invented.
package appliance
