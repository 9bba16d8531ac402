// Package image assembles the bootable gokrazy disk image of the branch
// box from this repository alone: the module proxy (kernel, firmware and
// gokrazy's programs at pinned versions) and Debian's filesystem tools
// (mksquashfs, mkfs.vfat, mtools, sfdisk, mkfs.ext4). gokrazy's own "gok"
// tool is not served by the proxy here, so the layout gok writes is
// reproduced: partition 1 boot (FAT), 2 and 3 root A/B (squashfs), 4 /perm
// (ext4, formatted here because nothing on the box formats it).
//
// The root file system is reproducible: Go builds with -trimpath and fixed
// link flags, every file's time set to the source date, squashfs written
// with fixed timestamps and sorted entries; two builds from the same
// commit and configuration give the same bytes, and Build reports its
// SHA-256. The build's serial and version (/etc/spanvault/firmware.json,
// which the box reports and compares offers against) are inputs like the
// source date.
//
// Every build is also an update (WriteUpdate; mkimage writes IMAGE.update/):
// root.squashfs and boot.fat, the exact bytes of partitions 2 and 1, and
// update.json, a wire.SignedUpdate the archive's update key signs over
// their sizes and SHA-256 digests (update.unsigned.json when built without
// the key, which no box installs). The box writes them through gokrazy's
// update API and test-boots them; gokrazy then edits cmdline.txt in place,
// without growing it, so the boot partition is FAT16 with one allocation
// table (what gokrazy's FAT reader expects) and cmdline.txt is one line
// followed by spaces (room for the test-boot flag).
package image
