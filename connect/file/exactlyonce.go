package file

import (
	"strings"

	"github.com/sluicehq/sluice/connect"
)

// ExactlyOnceSupport: a file source resumes at the byte position it
// stored, so with that position committed in the transaction of the lines
// before it, each line is sent once. Standard input cannot be read again:
// no support without a file, as Kafka's FileStreamSourceConnector says.
func (c *SourceConnector) ExactlyOnceSupport(props map[string]string) connect.ExactlyOnceSupport {
	if strings.TrimSpace(props[FileConfig]) == "" {
		return connect.ExactlyOnceUnsupported
	}
	return connect.ExactlyOnceSupported
}
