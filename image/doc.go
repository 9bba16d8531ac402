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
// SHA-256.
package image
