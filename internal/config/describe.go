package config

// Entries returns every non-internal broker setting as DescribeConfigs
// reports it for this broker, sorted by name.
func (b *Broker) Entries() []Entry {
	defs := BrokerDefs()
	out := make([]Entry, 0, len(defs))
	for i := range defs {
		if !defs[i].Internal {
			out = append(out, b.entry(brokerIndex[defs[i].Name]))
		}
	}
	return out
}

// Entry returns one broker setting as DescribeConfigs reports it.
func (b *Broker) Entry(name string) (Entry, bool) {
	d, ok := brokerIndex[name]
	if !ok {
		return Entry{}, false
	}
	return b.entry(d), true
}

func (b *Broker) entry(d *Def) Entry {
	e := Entry{
		Name:      d.Name,
		Value:     shown(d, b.values[d.Name]),
		Source:    b.sources[d.Name],
		ReadOnly:  d.Mode == ReadOnly,
		Sensitive: d.Sensitive(),
		Type:      d.Type,
		Doc:       d.Doc,
	}
	names := []Synonym{{Name: d.Name}}
	if len(d.Synonyms) > 0 {
		names = d.Synonyms
	}
	for _, syn := range names {
		sd, ok := brokerIndex[syn.Name]
		if !ok {
			continue
		}
		for _, l := range b.layers(sd) {
			e.Synonyms = append(e.Synonyms, EntrySynonym{Name: sd.Name, Value: shown(sd, l.value), Source: l.source})
		}
	}
	return e
}
