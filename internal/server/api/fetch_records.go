package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

// encodeFetchResponse encodes resp with each partition's records copied into
// memory. It is the fallback framing; the zero-copy one frames file regions.
func encodeFetchResponse(resp *kmsg.FetchResponse, records [][]fetchRecords) *server.Chunks {
	for ti := range resp.Topics {
		for pi := range resp.Topics[ti].Partitions {
			fr := records[ti][pi]
			if fr.rr == nil {
				continue
			}
			b, err := fr.rr.Bytes()
			fr.rr.Release()
			if err != nil {
				resp.Topics[ti].Partitions[pi].ErrorCode = errCode(err)
				continue
			}
			resp.Topics[ti].Partitions[pi].RecordBatches = b
		}
	}
	c := &server.Chunks{}
	c.AppendBytes(resp.AppendTo(nil))
	return c
}
