package cli

import (
	"strings"
	"testing"
)

// TestBrokersSingleNode drives the brokers commands against one broker:
// list is the cluster brokers table; the only broker cannot be decommissioned
// (its replicas have nowhere to go) and nothing is moved; a broker that is
// not registered cannot be decommissioned or unregistered; the running broker
// is not unregistered while it holds replicas.
func TestBrokersSingleNode(t *testing.T) {
	addr := grpStartBroker(t)
	out, errOut, err := partitionsRun(t, addr, "brokers", "list")
	if err != nil || strings.Join(strings.Fields(strings.Split(out, "\n")[1]), " ") != "1 "+addr+" - unfenced" {
		t.Errorf("brokers list: %v\n%s%s", err, out, errOut)
	}
	if _, _, err := partitionsRun(t, addr, "topics", "create", "held", "--partitions", "1", "--replication-factor", "1"); err != nil {
		t.Fatal(err)
	}

	out, _, err = partitionsRun(t, addr, "brokers", "decommission", "1", "--wait")
	if err == nil || !strings.Contains(err.Error(), "no live broker other than 1 is free") || strings.Contains(out, "Started") {
		t.Errorf("decommission of the only broker: %v\n%s", err, out)
	}
	if _, _, err := partitionsRun(t, addr, "brokers", "decommission", "7"); err == nil || !strings.Contains(err.Error(), "broker 7 is not registered") {
		t.Errorf("decommission of an unknown broker: %v", err)
	}
	if _, _, err := partitionsRun(t, addr, "brokers", "decommission", "x"); err == nil || !strings.Contains(err.Error(), "want a node.id") {
		t.Errorf("decommission x: %v", err)
	}
	if _, _, err := partitionsRun(t, addr, "brokers", "unregister", "7"); err == nil || !strings.Contains(err.Error(), "BROKER_ID_NOT_REGISTERED") {
		t.Errorf("unregister of an unknown broker: %v", err)
	}
	_, errOut, err = partitionsRun(t, addr, "brokers", "unregister", "1")
	if err == nil || !strings.Contains(err.Error(), "move its replicas first") || !strings.Contains(errOut, "still runs") {
		t.Errorf("unregister of the running broker holding replicas: %v\n%s", err, errOut)
	}
	// Still registered and serving.
	if out, _, err := partitionsRun(t, addr, "brokers", "list", "--json"); err != nil || !strings.Contains(out, `"node_id": 1`) {
		t.Errorf("brokers list after the refused unregistration: %v\n%s", err, out)
	}
}
