// Package sealed defines the plaintext inside a sealed recording: a stream
// of records (metadata and captured frames) that the vault encrypts with
// age. It is where a call becomes bytes on disk.
//
// Frames are stored so that every original byte can be rebuilt, but most
// header bytes are not stored at all. Each frame belongs to a context (one
// direction of one flow of the call); a frame's header (the bytes before
// the SIP message or RTP payload) is stored as the second difference of its
// 16-bit words against the context's previous two headers. For RTP the IP
// ID, RTP sequence number and timestamp advance by the same step every
// packet and the IPv4 checksum follows, so the second difference is zero
// but for the UDP checksum: a G.711 packet's 66 header bytes become about 5.
// Capture times are stored the same way (second difference in
// nanoseconds). The first frame of a context is stored whole.
//
// Record layout (all integers are varints):
//
//	magic "SPVREC2\n"
//	'M' len json          metadata (written at start and again at the end)
//	'C' ctx link kind dir flow   context definition
//	'P' ctx dt2 dlen hdrlen nz {idx dw} payload   a frame
//	'S' "\x00SPVSYNC" offset nextctx lastns   sync point (every 10 s of capture time)
//	'F' frames crc32c(frames)    end of recording (4 bytes, big-endian)
//
// Recordings written before this version start "SPVREC1\n" and end with
// 'E' frames sha256(frames) instead; Reader reads both and checks each
// against its own kind of checksum. The end record's checksum guards the
// coding (every frame comes back byte for byte). It is not what makes a
// recording tamper-evident: age's STREAM authenticates every chunk and the
// end of the file, and the vault keeps the sealed file's SHA-256 in its
// index and audit chain. CRC-32C costs a few per cent of what SHA-256 did
// on the capture path.
//
// At a sync point every context starts afresh: it is defined again under
// a new id (nextctx is the first) and its next frame is stored whole, and
// lastns is the capture time of the frame before. A reader can therefore
// begin at any sync point with nothing from before it; with age's
// DecryptReaderAt only the chunks read are decrypted, so seeking within an
// hour-long recording reads a few chunks (FindSync, NewReaderAt). A sync
// record names its own plaintext offset: a frame's payload that imitates
// one (the payload is whatever a peer sent) is not taken for it. The cost
// is a few whole headers every 10 s, about 0.1 % of a G.711 call.
//
// A recording cut short by a crash is readable up to its last complete
// record; Reader reports that it was truncated. Writer allocates nothing
// per frame once a context exists.
package sealed
