package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/storage"
)

// fetchRecords is a storage read as a Fetch response's records: a region of
// a segment file, sent with sendfile where the connection allows, whose
// segment reference is released once the bytes are sent.
type fetchRecords struct{ rr *storage.ReadResult }

func (r fetchRecords) Len() int { return r.rr.Size() }

func (r fetchRecords) AppendTo(c *server.Chunks) {
	f, pos, n := r.rr.File()
	c.AppendFile(f, pos, n, r.rr.Release)
}

// encodeFetchResponse frames resp around the partitions' reads. The
// encoder owns (and on failure releases) every read it was handed; the rest
// are released here.
func encodeFetchResponse(resp *kmsg.FetchResponse, records [][]fetchRecords) *server.Chunks {
	handed := make(map[*storage.ReadResult]bool)
	take := func(t, p int) Records {
		fr := records[t][p]
		if fr.rr == nil || fr.rr.Size() == 0 {
			return nil
		}
		handed[fr.rr] = true
		return fr
	}
	c, err := EncodeFetchResponse(resp, take)
	for t := range records {
		for _, fr := range records[t] {
			if fr.rr != nil && !handed[fr.rr] {
				fr.rr.Release()
			}
		}
	}
	if err != nil {
		// Only a version the encoder cannot frame gets here, and Register
		// advertises none; answer with empty record sets rather than fail.
		for t := range resp.Topics {
			for p := range resp.Topics[t].Partitions {
				resp.Topics[t].Partitions[p].RecordBatches = []byte{}
			}
		}
		c = &server.Chunks{}
		c.AppendBytes(resp.AppendTo(nil))
	}
	return c
}
