package git

import (
	"slices"

	"github.com/tinyforge/tinyforge/plugins"
)

var _ plugins.EventAcceptor = (*Trigger)(nil)

// accepted are the event types Match can ever act on; the ingress answers
// deliveries of other types "ignored" without storing them.
var accepted = []plugins.EventType{plugins.EventTypeGitPush, plugins.EventTypeGitTag, plugins.EventTypeManual, plugins.EventTypeCronTick}

// Accepts reports whether events of type t can match.
func (*Trigger) Accepts(t plugins.EventType) bool { return slices.Contains(accepted, t) }
