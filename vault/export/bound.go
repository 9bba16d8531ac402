package export

import (
	"time"

	"github.com/spanvault/spanvault/capture/audio"
	"github.com/spanvault/spanvault/record/media"
	"github.com/spanvault/spanvault/vault"
)

// RenderOptions are the renderer's options for a recording of the call e
// describes (media.RenderOptions).
func RenderOptions(e *vault.Entry) audio.Options { return media.RenderOptions(e) }

// RenderBound is the longest a recording of the call e describes renders
// to (media.RenderBound).
func RenderBound(e *vault.Entry) time.Duration { return media.RenderBound(e) }
