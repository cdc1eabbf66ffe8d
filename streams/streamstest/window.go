package streamstest

import "github.com/sluicehq/sluice/streams/state"

// WindowStore returns a window store of the topology (a windowed
// aggregation's, or one added with the Processor API), typed.
func WindowStore[K, V any](d *Driver, name string) (state.WindowStore[K, V], error) {
	s, err := d.Store(name)
	if err != nil {
		return nil, err
	}
	return state.AsWindowStore[K, V](s)
}

// DroppedRecords is how many records the topology's processors skipped on
// purpose (too late for their windows, null keys): Kafka's
// dropped-records-total over all tasks.
func (d *Driver) DroppedRecords() int64 {
	var n int64
	for _, tk := range d.tasks {
		n += tk.DroppedRecords()
	}
	return n
}
