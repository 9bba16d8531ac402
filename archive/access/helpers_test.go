package access_test

import (
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

func indexQuery(box string) index.Query { return index.Query{Appliance: box, Kind: wire.KindRecording} }

func indexOne(box, id string) index.Query {
	return index.Query{Appliance: box, ID: id, Kind: wire.KindRecording}
}
